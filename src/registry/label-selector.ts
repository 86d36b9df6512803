import { ValidationFailed } from '../common/errors.js';

/** One term of a label selector (Kubernetes syntax). */
export interface LabelRequirement {
  key: string;
  op: '=' | '!=' | 'exists' | '!exists' | 'in' | 'notin';
  values: string[];
}

/** A label key (optionally prefixed) and a label value, Kubernetes syntax. */
export const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
export const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/**
 * Parses `version=v2,tier!=db,canary,!legacy,env in (a,b),zone notin (z1)`.
 * Terms are ANDed. Throws ValidationFailed naming `labelSelector`.
 */
export function parseLabelSelector(text: string | undefined): LabelRequirement[] {
  if (!text || !text.trim()) return [];
  const terms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else cur += ch;
  }
  terms.push(cur);
  return terms.map((raw) => parseTerm(raw.trim(), text));
}

function parseTerm(t: string, whole: string): LabelRequirement {
  const bad = (why: string) => new ValidationFailed([{ field: 'labelSelector', message: `${why} in ${JSON.stringify(whole)}` }]);
  let m: RegExpMatchArray | null;
  let req: LabelRequirement;
  if ((m = t.match(/^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
    req = { key: m[1], op: m[2] as 'in' | 'notin', values: m[3].split(',').map((v) => v.trim()) };
  } else if ((m = t.match(/^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
    req = { key: m[1], op: m[2] === '!=' ? '!=' : '=', values: [m[3]] };
  } else if ((m = t.match(/^!\s*(\S+)$/))) {
    req = { key: m[1], op: '!exists', values: [] };
  } else if ((m = t.match(/^(\S+)$/))) {
    req = { key: m[1], op: 'exists', values: [] };
  } else {
    throw bad(`cannot parse ${JSON.stringify(t)}`);
  }
  if (!LABEL_KEY.test(req.key)) throw bad(`invalid label key ${JSON.stringify(req.key)}`);
  for (const v of req.values) if (!LABEL_VALUE.test(v) || v.length > 63) throw bad(`invalid label value ${JSON.stringify(v)}`);
  return req;
}

/** True when `labels` satisfies every requirement (used for in-memory matching). */
export function matchesSelector(labels: Record<string, string>, reqs: LabelRequirement[]): boolean {
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case '=':
        return has && v === r.values[0];
      case '!=':
        return !has || v !== r.values[0];
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case 'in':
        return has && r.values.includes(v);
      case 'notin':
        return !has || !r.values.includes(v);
    }
  });
}
