import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoEndpoint, echoRoute, echoService, edgeListener } from '../support/fixtures.js';

describe('translation problems are written back onto resource status', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('postgres', { XDS_DEBOUNCE_QUIET_MS: '10' });
  });
  after(async () => {
    await app?.stop();
  });

  async function eventually(check: () => Promise<void>): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        return await check();
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  it('reports, then clears, problems without bumping versions or logging changes', async () => {
    // Two listeners on one port of one group: valid resources, but only one can be sent.
    const second = { ...edgeListener(), name: 'edge-copy' };
    assert.equal((await app.http('POST', '/api/v1/apply', [echoService(), echoEndpoint('echo-1', 'v1'), echoRoute(), edgeListener(), second])).status, 200);
    const head = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
    await eventually(async () => {
      const svc = (await app.http('GET', '/api/v1/services/echo')).body;
      assert.ok(svc.status.translation, JSON.stringify(svc.status));
      const warnings = svc.status.translation.warnings;
      assert.deepEqual(warnings.map((w: any) => w.field ?? w.reason).sort(), ['Degraded', 'spec.subsets[1]']);
      assert.match(warnings.find((w: any) => w.field)!.message, /subset v2 selects no endpoints/);
      // The 90/10 route sends v2's share to v1 while v2 has no endpoint, and says so.
      assert.match(warnings.find((w: any) => w.reason === 'Degraded')!.message, /subset v2 has no usable endpoints; Route echo rule 1 sends its share to the other backends/);
      const copy = (await app.http('GET', '/api/v1/listeners/edge-copy')).body;
      assert.match(copy.status.translation.errors[0].message, /0\.0\.0\.0:10000 is already bound by Listener edge in group default/);
      assert.equal(copy.version, 1, 'status is not a spec change');
    });
    assert.equal((await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision, head, 'status writes are not in the change log');
    assert.match((await app.http('GET', '/metrics')).text, /switchyard_translation_issues\{severity="error"\} 1/);

    await app.http('POST', '/api/v1/services/echo/endpoints', echoEndpoint('echo-2', 'v2', 50062));
    await app.http('DELETE', '/api/v1/listeners/edge-copy');
    await eventually(async () => {
      const svc = (await app.http('GET', '/api/v1/services/echo')).body;
      assert.equal(svc.status.translation, undefined, JSON.stringify(svc.status));
    });
  });

  it('a host already served by another Route is refused at write time with 409 naming that route', async () => {
    const res = await app.http('POST', '/api/v1/routes', { ...echoRoute(), name: 'echo-copy' });
    assert.equal(res.status, 409, res.text);
    assert.match(res.body.message, /host echo \(spec\.hosts\[0\]\) is already served by Route echo/);
    assert.equal(res.body.conflictsWith.name, 'echo');
    const inBatch = await app.http('POST', '/api/v1/apply', [{ kind: 'Route', name: 'a', spec: { hosts: ['x'], rules: [{ backends: [{ service: 'echo', weight: 1 }] }] } }, { kind: 'Route', name: 'b', spec: { hosts: ['x'], rules: [{ backends: [{ service: 'echo', weight: 1 }] }] } }]);
    assert.equal(inBatch.status, 409, inBatch.text);
    assert.match(inBatch.body.message, /resources\[1\]: host x/);
    assert.equal((await app.http('GET', '/api/v1/routes/a')).status, 404, 'nothing written');
  });
});
