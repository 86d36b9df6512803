import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'node:test';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { translationGoldens } from '../support/golden.js';

describe('translation golden files (test/golden/translate: *.in.yaml → *.<stage>.out.yaml)', () => {
  translationGoldens(join(PACKAGE_ROOT, 'test/golden/translate'));
});

// Each policy type keeps its own golden cases next to its plugin.
const POLICIES = join(PACKAGE_ROOT, 'src/policies');
for (const type of readdirSync(POLICIES).filter((d) => existsSync(join(POLICIES, d, 'golden'))).sort()) {
  describe(`policy plugin golden files (src/policies/${type}/golden)`, () => {
    translationGoldens(join(POLICIES, type, 'golden'));
  });
}
