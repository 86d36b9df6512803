import YAML from 'yaml';

/** A key problem, and where in the source it is (a character offset). */
export interface YamlKeyProblem {
  message: string;
  offset: number;
}

/**
 * The first problem with a YAML document's mapping keys: a key given twice, or
 * (with `maxKeys`) a mapping with more keys than that. Linear in the keys: the
 * parser's own `uniqueKeys` check compares every key with every other, so a
 * 20,000-key mapping blocked the event loop for seconds; parse with
 * `uniqueKeys: false` and call this instead.
 */
export function yamlKeyProblem(doc: YAML.Document, maxKeys = Infinity): YamlKeyProblem | undefined {
  let problem: YamlKeyProblem | undefined;
  YAML.visit(doc, {
    Map(_, map) {
      if (map.items.length > maxKeys) {
        problem = { message: `a mapping has ${map.items.length} keys; at most ${maxKeys}`, offset: map.range?.[0] ?? 0 };
        return YAML.visit.BREAK;
      }
      const seen = new Set<string>();
      for (const { key } of map.items) {
        const k = YAML.isScalar(key) ? `${typeof key.value}:${String(key.value)}` : `node:${String(key)}`;
        // `<<` is a merge key, which may repeat.
        if (k === 'string:<<') continue;
        if (seen.has(k)) {
          const at = YAML.isNode(key) ? key.range?.[0] : undefined;
          problem = { message: `Map keys must be unique (${JSON.stringify(k.slice(k.indexOf(':') + 1)).slice(0, 80)})`, offset: at ?? map.range?.[0] ?? 0 };
          return YAML.visit.BREAK;
        }
        seen.add(k);
      }
      return undefined;
    },
  });
  return problem;
}
