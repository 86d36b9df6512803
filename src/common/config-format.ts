import YAML from 'yaml';
import type { FieldViolation } from './errors.js';
import { yamlKeyProblem } from './yaml-keys.js';

/** One parse error of a config's content, with its 1-based line. */
export interface FormatError {
  line: number;
  message: string;
}

/**
 * Checks content against its format: YAML and JSON must parse; properties must
 * be `key=value` or `key: value` lines (comments with # or !, continuations
 * with a trailing backslash); text is anything.
 */
export function formatError(format: string, content: string): FormatError | undefined {
  if (format === 'yaml') {
    let docs: ReturnType<typeof YAML.parseAllDocuments>;
    try {
      docs = YAML.parseAllDocuments(content, { uniqueKeys: false });
    } catch (e) {
      // The parser recurses: content nested thousands deep overflows the stack.
      return { line: 1, message: e instanceof RangeError ? 'nested too deeply' : (e as Error).message.split('\n')[0] };
    }
    for (const d of Array.isArray(docs) ? docs : [docs]) {
      const e = d.errors[0];
      if (e) return { line: e.linePos?.[0]?.line ?? 1, message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '') };
      const dup = yamlKeyProblem(d);
      if (dup) return { line: content.slice(0, dup.offset).split('\n').length, message: dup.message };
    }
    return undefined;
  }
  if (format === 'json') {
    try {
      JSON.parse(content);
      return undefined;
    } catch (e) {
      // V8 does not always say where (Unexpected token …): find the offset ourselves.
      const at = jsonErrorOffset(content);
      const msg = (e as Error).message.split('\n')[0];
      return { line: content.slice(0, at).split('\n').length, message: /position \d+/.test(msg) ? msg.replace(/ (in|after) JSON at position \d+.*$/, '') : `unexpected ${at < content.length ? JSON.stringify(content[at]) : 'end of input'}` };
    }
  }
  if (format === 'properties') {
    const lines = content.split(/\r?\n/);
    let continued = false;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i].trim();
      const wasContinued = continued;
      continued = /(^|[^\\])(\\\\)*\\$/.test(lines[i]);
      if (wasContinued || l === '' || l.startsWith('#') || l.startsWith('!')) continue;
      // A line starts with a key; the separator is =, : or whitespace (a key alone has an empty value).
      if (!/^([^=:\s\\]|\\.)/.test(l)) return { line: i + 1, message: `expected key=value, got ${JSON.stringify(l.slice(0, 60))}` };
    }
    return undefined;
  }
  return undefined;
}

/** The parsed view of a config (what a client library hands an app). */
export function parseContent(format: string, content: string): unknown {
  if (format === 'yaml') return YAML.parse(content);
  if (format === 'json') return JSON.parse(content);
  if (format === 'properties') {
    const out: Record<string, string> = {};
    const lines = content.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      let l = lines[i];
      while (/(^|[^\\])(\\\\)*\\$/.test(l) && i + 1 < lines.length) l = l.slice(0, -1) + lines[++i].trimStart();
      const t = l.trimStart();
      if (!t || t.startsWith('#') || t.startsWith('!')) continue;
      // Java's rules: the value keeps trailing spaces; escapes apply to keys and values alike.
      const m = /^((?:[^=:\s\\]|\\.)+)(?:\s*[=:]\s*|\s+|$)(.*)$/s.exec(t);
      if (m) out[unescapeProperty(m[1])] = unescapeProperty(m[2]);
    }
    return out;
  }
  return content;
}

const CONTROL: Record<string, string> = { t: '\t', n: '\n', r: '\r', f: '\f' };

function unescapeProperty(s: string): string {
  return s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, e: string) => (e.length === 5 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (CONTROL[e] ?? e)));
}

export const violationOf = (field: string, e: FormatError): FieldViolation => ({ field, message: `line ${e.line}: ${e.message}` });

/** The offset of the first JSON syntax error (content.length for a premature end). Only called on content JSON.parse refused. */
function jsonErrorOffset(t: string): number {
  let i = 0;
  const ws = () => {
    while (i < t.length && ' \t\n\r'.includes(t[i])) i++;
  };
  class Stop extends Error {}
  const fail = (): never => {
    throw new Stop();
  };
  const str = () => {
    if (t[i] !== '"') fail();
    i++;
    while (i < t.length && t[i] !== '"') {
      if (t[i] < ' ') fail();
      if (t[i] === '\\') {
        i++;
        if (t[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(t.slice(i + 1, i + 5))) fail();
          i += 4;
        } else if (!'"\\/bfnrt'.includes(t[i] ?? 'x')) fail();
      }
      i++;
    }
    if (i >= t.length) fail();
    i++;
  };
  const value = (): void => {
    ws();
    const c = t[i];
    if (c === '{') {
      i++;
      ws();
      if (t[i] === '}') return void i++;
      for (;;) {
        ws();
        str();
        ws();
        if (t[i] !== ':') fail();
        i++;
        value();
        ws();
        if (t[i] === ',') i++;
        else if (t[i] === '}') return void i++;
        else fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (t[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (t[i] === ',') i++;
        else if (t[i] === ']') return void i++;
        else fail();
      }
    }
    if (c === '"') return str();
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|^true|^false|^null/.exec(t.slice(i, i + 400));
    if (!m) fail();
    i += m![0].length;
  };
  try {
    value();
    ws();
    return i;
  } catch {
    return Math.min(i, t.length);
  }
}
