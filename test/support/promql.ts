/*
 * Just enough of a PromQL reader to say which metrics and labels a query uses,
 * for checking dashboards against what the control plane exports. It lexes the
 * expression (strings, durations, ranges and Grafana variables are skipped, so
 * nothing inside them is mistaken for a name) and sorts identifiers into
 * functions, aggregators, keywords, grouping labels and metric names. A name
 * followed by `(` that is not a PromQL function is an error rather than a
 * guess: a typo in a function would otherwise pass as an unknown metric.
 */

/** One label matcher of a selector: `label op "value"` on `metric` (undefined for a bare `{...}`). */
export interface PromqlMatcher {
  metric?: string;
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

/** What a PromQL expression reads. */
export interface PromqlRefs {
  /** Metric names as written (with any _bucket/_sum/_count suffix). */
  metrics: string[];
  /** Label names in by/without/on/ignoring/group_left/group_right clauses. */
  grouping: string[];
  matchers: PromqlMatcher[];
}

const AGGREGATORS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan']);
const FUNCTIONS = new Set(
  `abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max clamp_min cos cosh
  count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv end exp floor histogram_avg histogram_count
  histogram_fraction histogram_quantile histogram_stddev histogram_stdvar histogram_sum hour idelta increase irate label_join
  label_replace last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi predict_linear
  present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_desc sort_by_label
  sort_by_label_desc sqrt start stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector year`.split(/\s+/),
);

type Tok = { t: 'ident' | 'str' | 'num' | 'punct' | 'op'; v: string };

const DURATION = /^(?:\d+(?:ms|[smhdwy]))+/;
const NUMBER = /^(?:0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)/i;
const IDENT = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
// Grafana's variables: $name, ${name}, ${name:format}, [[name]].
const VARIABLE = /^(?:\$\{[^}]*\}|\$[a-zA-Z_]\w*|\[\[[^\]]*\]\])/;
const OPS = ['=~', '!~', '!=', '==', '<=', '>=', '=', '<', '>', '+', '-', '*', '/', '%', '^', '@'];

function readString(s: string, i: number): [string, number] {
  const q = s[i];
  let out = '';
  for (let j = i + 1; j < s.length; j++) {
    if (q !== '`' && s[j] === '\\') {
      out += s[++j] ?? '';
      continue;
    }
    if (s[j] === q) return [out, j + 1];
    out += s[j];
  }
  throw new Error(`unterminated string at ${i}: ${s}`);
}

function lex(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const rest = s.slice(i);
    let m: RegExpExecArray | null;
    if (/^\s/.test(rest)) i++;
    else if (rest[0] === '#') i = s.indexOf('\n', i) < 0 ? s.length : s.indexOf('\n', i);
    else if (rest[0] === '"' || rest[0] === "'" || rest[0] === '`') {
      const [v, end] = readString(s, i);
      out.push({ t: 'str', v });
      i = end;
    } else if ((m = VARIABLE.exec(rest))) {
      // A variable stands for a value (a duration, a regex); never a metric name here.
      out.push({ t: 'num', v: m[0] });
      i += m[0].length;
    } else if (rest[0] === '[') {
      // A range or subquery: durations, a colon and variables only.
      const end = s.indexOf(']', i);
      if (end < 0) throw new Error(`unclosed [ at ${i}: ${s}`);
      i = end + 1;
    } else if ((m = DURATION.exec(rest)) || (m = NUMBER.exec(rest))) {
      out.push({ t: 'num', v: m[0] });
      i += m[0].length;
    } else if ((m = IDENT.exec(rest))) {
      out.push({ t: 'ident', v: m[0] });
      i += m[0].length;
    } else if ('(){},'.includes(rest[0])) {
      out.push({ t: 'punct', v: rest[0] });
      i++;
    } else {
      const op = OPS.find((o) => rest.startsWith(o));
      if (!op) throw new Error(`unexpected ${JSON.stringify(rest[0])} at ${i}: ${s}`);
      out.push({ t: 'op', v: op });
      i += op.length;
    }
  }
  return out;
}

/** The metrics, grouping labels and label matchers of a PromQL expression; throws on what it cannot read. */
export function promqlRefs(expr: string): PromqlRefs {
  const toks = lex(expr);
  const refs: PromqlRefs = { metrics: [], grouping: [], matchers: [] };
  const at = (k: number) => toks[k];
  const isPunct = (k: number, v: string) => at(k)?.t === 'punct' && at(k)?.v === v;

  // Reads `{label op "value", ...}` starting at the `{`; returns the index after `}`.
  const matchers = (k: number, metric: string | undefined): number => {
    k++;
    while (!isPunct(k, '}')) {
      const label = at(k), op = at(k + 1), value = at(k + 2);
      if (label?.t !== 'ident' || op?.t !== 'op' || !['=', '!=', '=~', '!~'].includes(op.v) || value?.t !== 'str')
        throw new Error(`bad label matcher near token ${k}: ${expr}`);
      refs.matchers.push({ metric, label: label.v, op: op.v as PromqlMatcher['op'], value: value.v });
      k += 3;
      if (isPunct(k, ',')) k++;
      else if (!isPunct(k, '}')) throw new Error(`expected , or } near token ${k}: ${expr}`);
    }
    return k + 1;
  };

  for (let k = 0; k < toks.length; ) {
    const tok = toks[k];
    if (tok.t === 'punct' && tok.v === '{') {
      k = matchers(k, undefined);
      continue;
    }
    if (tok.t !== 'ident') {
      k++;
      continue;
    }
    const name = tok.v;
    if (GROUPING.has(name)) {
      k++;
      // group_left/group_right may stand without a label list.
      if (!isPunct(k, '(')) continue;
      for (k++; !isPunct(k, ')'); k++) {
        if (at(k) === undefined) throw new Error(`unclosed ${name} (...): ${expr}`);
        if (at(k).t === 'ident') refs.grouping.push(at(k).v);
        else if (!isPunct(k, ',')) throw new Error(`bad ${name} label list: ${expr}`);
      }
      k++;
    } else if (AGGREGATORS.has(name) || KEYWORDS.has(name.toLowerCase())) {
      k++;
    } else if (isPunct(k + 1, '(')) {
      if (!FUNCTIONS.has(name)) throw new Error(`unknown PromQL function ${name}: ${expr}`);
      k++;
    } else {
      refs.metrics.push(name);
      k = isPunct(k + 1, '{') ? matchers(k + 1, name) : k + 1;
    }
  }
  // {__name__="x"} names a metric too.
  for (const m of refs.matchers) if (m.label === '__name__' && m.op === '=') refs.metrics.push(m.value);
  return refs;
}

/**
 * A Grafana Prometheus variable query: `label_values(expr, label)`,
 * `label_values(label)`, `query_result(expr)`, `metrics(regex)` (no metric to
 * check) or plain PromQL. Returns the PromQL part and the label it reads.
 */
export function grafanaVariableQuery(query: string): { expr?: string; label?: string } {
  const q = query.trim();
  let m: RegExpExecArray | null;
  if ((m = /^label_values\(\s*(.*?)\s*,\s*([a-zA-Z_]\w*)\s*\)$/s.exec(q))) return { expr: m[1], label: m[2] };
  if ((m = /^label_values\(\s*([a-zA-Z_]\w*)\s*\)$/.exec(q))) return { label: m[1] };
  if ((m = /^query_result\((.*)\)$/s.exec(q))) return { expr: m[1] };
  if (/^(metrics|label_names)\(/.test(q)) return {};
  return { expr: q };
}
