import { styleText } from 'node:util';
import YAML from 'yaml';
import type { Kind } from '../model/resources.js';

export type Format = 'table' | 'wide' | 'yaml' | 'json';
export const FORMATS: Format[] = ['table', 'wide', 'yaml', 'json'];

/** Colour when writing to a terminal (and NO_COLOR is not set). */
export const color = (style: Parameters<typeof styleText>[0], text: string, stream: NodeJS.WriteStream = process.stdout) =>
  stream.isTTY && !process.env.NO_COLOR ? styleText(style, text) : text;

/** Columns padded to their widest cell. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('   ')).join('\n') + '\n';
}

export function age(iso?: string): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`;
}

/** A resource without its server-owned fields: what you would keep in git and apply again. */
export function manifest(r: any): Record<string, unknown> {
  return {
    kind: r.kind,
    name: r.name,
    ...(r.service ? { service: r.service } : {}),
    ...(r.namespace ? { namespace: r.namespace, group: r.group } : {}),
    ...(r.labels && Object.keys(r.labels).length ? { labels: r.labels } : {}),
    spec: r.spec,
  };
}

export const yamlDocs = (docs: unknown[]) => docs.map((d) => YAML.stringify(d, { lineWidth: 0 })).join('---\n');

const issues = (r: any) => {
  const t = r.status?.translation;
  const n = (t?.errors?.length ?? 0) + (t?.warnings?.length ?? 0);
  return n ? `${t?.errors?.length ?? 0} error(s), ${t?.warnings?.length ?? 0} warning(s)` : '-';
};
const labels = (l?: Record<string, string>) => (l && Object.keys(l).length ? Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',') : '-');
const backends = (rule: any) => rule.backends.map((b: any) => `${b.service}${b.subset ? `/${b.subset}` : ''}:${b.weight}`).join(' ');

/** A config's gray target as a person reads it: `env=gray and 30%`. */
export const grayTarget = (t: { labels?: string; percent?: number }) => [t.labels, t.percent !== undefined ? `${t.percent}%` : undefined].filter(Boolean).join(' and ');

/** The table columns of each kind (wide adds a few). */
const COLUMNS: Record<Kind, { head: string[]; row: (r: any) => (string | number)[]; wideHead: string[]; wideRow: (r: any) => (string | number)[] }> = {
  Service: {
    head: ['NAME', 'PROTOCOL', 'PORT', 'SUBSETS', 'POLICIES', 'AGE'],
    row: (r) => [r.name, r.spec.protocol, r.spec.port, (r.spec.subsets ?? []).map((s: any) => s.name).join(',') || '-', (r.spec.policies ?? []).join(',') || '-', age(r.createdAt)],
    wideHead: ['VERSION', 'ISSUES'],
    wideRow: (r) => [r.version, issues(r)],
  },
  Endpoint: {
    head: ['NAME', 'ADDRESS', 'PORT', 'HEALTH', 'LABELS', 'AGE'],
    row: (r) => [r.name, r.spec.address, r.spec.port, r.status?.health?.state ?? r.spec.health ?? 'unknown', labels(r.spec.labels), age(r.createdAt)],
    wideHead: ['WEIGHT', 'ZONE', 'SOURCE'],
    wideRow: (r) => [r.spec.weight ?? 1, r.spec.locality?.zone ?? '-', r.status?.ephemeral ? `heartbeat (ttl ${r.spec.ttlSeconds}s)` : 'registry'],
  },
  Route: {
    head: ['NAME', 'HOSTS', 'RULES', 'BACKENDS (last rule)', 'AGE'],
    row: (r) => [r.name, r.spec.hosts.join(','), r.spec.rules.length, backends(r.spec.rules[r.spec.rules.length - 1]), age(r.createdAt)],
    wideHead: ['POLICIES', 'VERSION', 'ISSUES'],
    wideRow: (r) => [(r.spec.policies ?? []).join(',') || '-', r.version, issues(r)],
  },
  Listener: {
    head: ['NAME', 'GROUP', 'ADDRESS', 'PORT', 'PROTOCOL', 'ROUTES', 'AGE'],
    row: (r) => [r.name, r.spec.group, r.spec.address, r.spec.port, r.spec.protocol, r.spec.routes.join(',') || '-', age(r.createdAt)],
    wideHead: ['VERSION', 'ISSUES'],
    wideRow: (r) => [r.version, issues(r)],
  },
  Policy: {
    head: ['NAME', 'TYPE', 'AGE'],
    row: (r) => [r.name, r.spec.type, age(r.createdAt)],
    wideHead: ['VERSION', 'CONDITIONS'],
    wideRow: (r) => [r.version, [...new Set([...(r.status?.translation?.warnings ?? []), ...(r.status?.translation?.errors ?? [])].map((w: any) => w.reason ?? 'Error'))].join(',') || '-'],
  },
  Config: {
    head: ['NAMESPACE', 'GROUP', 'NAME', 'FORMAT', 'REVISION', 'GRAY', 'AGE'],
    row: (r) => [r.namespace, r.group, r.name, r.spec.format, r.version, r.spec.gray ? grayTarget(r.spec.gray.target) : '-', age(r.updatedAt ?? r.createdAt)],
    wideHead: ['SIZE', 'LABELS'],
    wideRow: (r) => [Buffer.byteLength(r.spec.content), labels(r.labels)],
  },
  Rollout: {
    head: ['NAME', 'SERVICE', 'STABLE', 'CANARY', 'PHASE', 'STEP', 'WEIGHTS', 'AGE'],
    row: (r) => {
      const s = r.status?.rollout;
      return [r.name, r.spec.service, r.spec.stable, r.spec.canary, s?.phase ?? 'Pending', s ? `${Math.min(s.step, r.spec.steps.length)}/${r.spec.steps.length}` : `0/${r.spec.steps.length}`, s ? `${s.weights.stable}/${s.weights.canary}` : '100/0', age(r.createdAt)];
    },
    wideHead: ['MESSAGE'],
    wideRow: (r) => [r.status?.rollout?.message ?? '-'],
  },
};

/** Resources in the chosen format. */
export function render(kind: Kind, items: any[], format: Format): string {
  if (format === 'json') return JSON.stringify(items.length === 1 ? items[0] : items, null, 2) + '\n';
  if (format === 'yaml') return yamlDocs(items);
  if (!items.length) return `No ${kind} resources found.\n`;
  const c = COLUMNS[kind];
  const wide = format === 'wide';
  return table(wide ? [...c.head, ...c.wideHead] : c.head, items.map((r) => (wide ? [...c.row(r), ...c.wideRow(r)] : c.row(r))));
}
