import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { loadConfig } from '../../src/config/config.js';
import { MetricsService } from '../../src/observability/metrics.service.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoEndpoint, echoRoute, echoService, edgeListener } from '../support/fixtures.js';
import { grafanaVariableQuery, promqlRefs } from '../support/promql.js';
import { eventually } from '../support/xds-client.js';

/*
 * The Grafana dashboard of deploy/grafana only queries what the control plane
 * exports: every metric of every panel and variable query is a family in a real
 * scrape of GET /metrics, every label it groups, matches or shows in a legend is
 * one of that family's labels, and an exact label value (the heartbeat route)
 * is one a real request produces. The dashboard is also well formed for
 * Grafana, uses the provisioned datasource, and docker-compose.yml wires
 * Prometheus and Grafana to the files that are checked here.
 */

type Json = any;
const read = (f: string) => readFileSync(join(PACKAGE_ROOT, f), 'utf8');
const DASHBOARD = 'deploy/grafana/dashboards/switchyard.json';
const DATASOURCES = 'deploy/grafana/provisioning/datasources/prometheus.yaml';
const PROVIDERS = 'deploy/grafana/provisioning/dashboards/switchyard.yaml';
const PROMETHEUS = 'deploy/prometheus/prometheus.yml';
/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['instance', 'job'];

/** What a scrape exported: families with their type and label names, and the samples. */
interface Exported {
  types: Map<string, string>;
  labels: Map<string, Set<string>>;
  samples: { name: string; labels: Record<string, string> }[];
}

/** Parses the Prometheus text format: `# TYPE` lines (prom-client writes one per registered metric, sampled or not) and samples. */
function parseScrape(text: string, labelNames: Map<string, readonly string[]> = new Map()): Exported {
  const out: Exported = { types: new Map(), labels: new Map(), samples: [] };
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^# TYPE (\S+) (\S+)$/.exec(line))) {
      out.types.set(m[1], m[2]);
      out.labels.set(m[1], new Set(labelNames.get(m[1]) ?? []));
    } else if ((m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+/.exec(line))) {
      const labels: Record<string, string> = {};
      for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
      out.samples.push({ name: m[1], labels });
    }
  }
  for (const s of out.samples) {
    const family = familyOf(s.name, out);
    for (const l of Object.keys(s.labels)) if (family && l !== 'le' && l !== 'quantile') out.labels.get(family)!.add(l);
  }
  return out;
}

/** The exported family a series name belongs to: itself, or a histogram/summary for its _bucket, _sum and _count series. */
function familyOf(name: string, exported: Exported): string | undefined {
  if (exported.types.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const type = m && exported.types.get(m[1]);
  if (type === 'histogram' || (type === 'summary' && m![2] !== 'bucket')) return m![1];
  return undefined;
}

/** Every panel, including those inside collapsed rows. */
const allPanels = (dash: Json): Json[] => (dash.panels ?? []).flatMap((p: Json) => [p, ...(p.panels ?? [])]);

/** Every query of the dashboard: panel targets and variable queries. */
function queries(dash: Json): { where: string; expr?: string; legend?: string; label?: string }[] {
  const out: { where: string; expr?: string; legend?: string; label?: string }[] = [];
  for (const p of allPanels(dash))
    for (const t of p.targets ?? []) out.push({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr, legend: t.legendFormat });
  for (const v of dash.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    out.push({ where: `variable ${v.name}`, ...grafanaVariableQuery(String(q ?? '')) });
  }
  return out;
}

/** What the dashboard queries that the scrape does not have; empty when every name and label is real. */
function auditQueries(dash: Json, exported: Exported): string[] {
  const problems: string[] = [];
  for (const q of queries(dash)) {
    const bad = (what: string) => problems.push(`${q.where}: ${what}`);
    if (q.expr === undefined) continue;
    let refs;
    try {
      refs = promqlRefs(q.expr);
    } catch (e) {
      bad((e as Error).message);
      continue;
    }
    if (!refs.metrics.length) bad(`no metric in ${q.expr}`);
    const labelsOf = (name: string) => [...(exported.labels.get(familyOf(name, exported) ?? '') ?? []), ...TARGET_LABELS, ...(name.endsWith('_bucket') ? ['le'] : [])];
    for (const name of refs.metrics) if (!familyOf(name, exported)) bad(`metric ${name} is not exported`);
    const known = new Set(refs.metrics.flatMap(labelsOf));
    for (const l of refs.grouping) if (!known.has(l)) bad(`groups by ${l}, a label none of ${refs.metrics.join(', ')} has`);
    for (const m of refs.matchers) {
      if (!m.metric || m.label === '__name__') continue;
      if (!labelsOf(m.metric).includes(m.label)) bad(`matches ${m.label} on ${m.metric}, which has no such label`);
      // An exact value that no real series carries matches nothing, silently.
      else if (m.op === '=' && !m.value.includes('$') && !exported.samples.some((s) => s.name === m.metric && s.labels[m.label] === m.value))
        bad(`${m.metric}{${m.label}="${m.value}"} has no series`);
    }
    for (const [, l] of (q.legend ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) if (!known.has(l)) bad(`legend shows {{${l}}}, a label the query has not`);
    if (q.label && !known.has(q.label)) bad(`reads label ${q.label}, which ${refs.metrics.join(', ')} has not`);
  }
  return problems;
}

/** What Grafana would reject or show wrong; empty when the dashboard is well formed and uses datasource `uid`. */
function auditStructure(dash: Json, uid: string): string[] {
  const problems: string[] = [];
  for (const f of ['uid', 'title']) if (typeof dash[f] !== 'string' || !dash[f]) problems.push(`dashboard ${f} is missing`);
  if (typeof dash.schemaVersion !== 'number') problems.push('dashboard schemaVersion is missing');
  const panels = allPanels(dash);
  if (!panels.length) problems.push('no panels');
  const ids = new Set<number>();
  const ds = (where: string, d: Json) => {
    if (d?.uid !== uid || d?.type !== 'prometheus') problems.push(`${where}: datasource ${JSON.stringify(d)} is not the provisioned ${uid}`);
  };
  for (const p of panels) {
    const where = `panel ${p.id} "${p.title}"`;
    if (!Number.isInteger(p.id)) problems.push(`${where}: id is not an integer`);
    else if (ids.has(p.id)) problems.push(`${where}: id ${p.id} is used twice`);
    ids.add(p.id);
    const g = p.gridPos ?? {};
    if (![g.h, g.w, g.x, g.y].every(Number.isInteger) || g.w < 1 || g.x < 0 || g.x + g.w > 24) problems.push(`${where}: gridPos ${JSON.stringify(p.gridPos)} is outside the 24 columns`);
    if (!p.title) problems.push(`${where}: no title`);
    if (p.type === 'row') continue;
    ds(where, p.datasource);
    if (!Array.isArray(p.targets) || !p.targets.length) problems.push(`${where}: no targets`);
    const refIds = new Set<string>();
    for (const t of p.targets ?? []) {
      if (typeof t.expr !== 'string' || !t.expr.trim()) problems.push(`${where}: target ${t.refId} has no expr`);
      if (!t.refId || refIds.has(t.refId)) problems.push(`${where}: refId ${t.refId} is missing or used twice`);
      refIds.add(t.refId);
      if (t.datasource) ds(`${where} ${t.refId}`, t.datasource);
    }
  }
  for (const v of dash.templating?.list ?? []) if (v.type === 'query') ds(`variable ${v.name}`, v.datasource);
  return problems;
}

describe('PromQL reader', () => {
  it('finds metrics, grouping labels and matchers, and skips functions, strings, ranges and variables', () => {
    const r = promqlRefs(
      'histogram_quantile(0.99, sum by (le, route) (rate(switchyard_http_request_duration_seconds_bucket{instance=~"$instance", route="/a:b"}[$__rate_interval]))) / on (route) group_left sum without (status) (rate(up[5m] offset 1h30m)) > bool 1e3',
    );
    assert.deepEqual(r.metrics, ['switchyard_http_request_duration_seconds_bucket', 'up']);
    assert.deepEqual(r.grouping, ['le', 'route', 'route', 'status']);
    assert.deepEqual(r.matchers, [
      { metric: 'switchyard_http_request_duration_seconds_bucket', label: 'instance', op: '=~', value: '$instance' },
      { metric: 'switchyard_http_request_duration_seconds_bucket', label: 'route', op: '=', value: '/a:b' },
    ]);
    assert.deepEqual(promqlRefs('label_replace(foo, "dst", "$1", "src", "(.*)") + {__name__="bar"}').metrics, ['foo', 'bar']);
    assert.deepEqual(promqlRefs('max by (rollout, phase) (switchyard_rollout_phase) > 0').metrics, ['switchyard_rollout_phase']);
  });

  it('fails on what it cannot read, rather than passing it as a metric', () => {
    assert.throws(() => promqlRefs('rat(switchyard_xds_pushes_total[5m])'), /unknown PromQL function rat/);
    assert.throws(() => promqlRefs('sum(x{a=b})'), /bad label matcher/);
    assert.throws(() => promqlRefs('rate(x[5m)'), /unclosed \[|unexpected/);
  });

  it('reads Grafana variable queries', () => {
    assert.deepEqual(grafanaVariableQuery('label_values(switchyard_http_requests_total{job="x"}, instance)'), { expr: 'switchyard_http_requests_total{job="x"}', label: 'instance' });
    assert.deepEqual(grafanaVariableQuery('label_values(instance)'), { label: 'instance' });
    assert.deepEqual(grafanaVariableQuery('up'), { expr: 'up' });
  });
});

describe('Grafana dashboard', () => {
  let app: TestApp;
  let exported: Exported;
  const dashboard: Json = JSON.parse(read(DASHBOARD));
  const datasource = YAML.parse(read(DATASOURCES)).datasources[0];

  before(async () => {
    app = await startTestApp('postgres');
    // Labelled families have series only once used: write resources, serve and ACK a proxy, heartbeat.
    for (const [path, body] of [
      ['/api/v1/services', echoService()],
      ['/api/v1/services/echo/endpoints', echoEndpoint('echo-1', 'v1')],
      ['/api/v1/routes', echoRoute()],
      ['/api/v1/listeners', edgeListener()],
    ] as const)
      assert.equal((await app.http('POST', path, body)).status, 201, path);
    assert.equal((await app.http('PUT', '/api/v1/services/echo/endpoints/echo-hb/heartbeat', { spec: { address: '127.0.0.9', port: 50069, ttlSeconds: 30 } })).status, 200);
    const ads = new AdsTestClient(app.xdsPort);
    try {
      ads.send({ node: envoyNode('grafana-probe'), type_url: TYPE.cluster });
      const cds = await ads.next();
      ads.send({ type_url: TYPE.cluster, version_info: cds.version_info, response_nonce: cds.nonce });
      const labelNames = new Map(app.app.get(MetricsService).registry.getMetricsAsArray().map((m: Json) => [m.name, m.labelNames ?? []]));
      // Scraped while the stream is open, so the connected-proxies gauge has a series.
      exported = await eventually(async () => {
        const res = await app.http('GET', '/metrics');
        assert.equal(res.status, 200);
        const e = parseScrape(res.text, labelNames);
        assert.ok(e.samples.some((s) => s.name === 'switchyard_xds_connected_proxies' && s.labels.group === 'default' && s.labels.kind), 'the probe is counted');
        assert.ok(e.samples.some((s) => s.name === 'switchyard_xds_pushes_total' && s.labels.type === 'CDS'), 'the push is counted');
        return e;
      });
    } finally {
      ads.close();
    }
  });
  after(async () => {
    await app?.stop();
  });

  it('queries only metrics, labels and label values the control plane exports', () => {
    assert.ok(queries(dashboard).length > 30, 'the dashboard has its queries');
    assert.deepEqual(auditQueries(dashboard, exported), []);
  });

  it('covers every switchyard_ metric family', () => {
    const used = new Set(queries(dashboard).flatMap((q) => (q.expr ? promqlRefs(q.expr).metrics.map((m) => familyOf(m, exported)) : [])));
    const missing = [...exported.types.keys()].filter((f) => f.startsWith('switchyard_') && !used.has(f));
    assert.deepEqual(missing, [], 'a family no panel shows');
  });

  it('is a well-formed dashboard on the provisioned datasource', () => {
    assert.equal(datasource.type, 'prometheus');
    assert.equal(datasource.url, 'http://prometheus:9090');
    assert.ok(datasource.uid);
    assert.deepEqual(auditStructure(dashboard, datasource.uid), []);
    const titles = allPanels(dashboard).filter((p) => p.type === 'row').map((p) => p.title);
    for (const row of ['Proxies', 'Pushes', 'Rollouts', 'API', 'Config centre']) assert.ok(titles.includes(row), `row ${row}`);
  });

  it('the audits catch a wrong metric, label, value, legend, datasource or id', () => {
    const mutate = (change: (d: Json) => void) => {
      const d = structuredClone(dashboard);
      change(d);
      return [...auditQueries(d, exported), ...auditStructure(d, datasource.uid)].join('\n');
    };
    const target = (d: Json) => allPanels(d).find((p) => p.targets?.[0]?.expr.includes('switchyard_xds_pushes_total')).targets[0];
    assert.match(mutate((d) => (target(d).expr = 'sum by (type) (rate(switchyard_xds_pushes_totl[5m]))')), /metric switchyard_xds_pushes_totl is not exported/);
    assert.match(mutate((d) => (target(d).expr = 'sum by (typ) (rate(switchyard_xds_pushes_total[5m]))')), /groups by typ/);
    assert.match(mutate((d) => (target(d).expr = 'rate(switchyard_xds_pushes_total{group="x"}[5m])')), /matches group on switchyard_xds_pushes_total/);
    assert.match(mutate((d) => (target(d).expr = 'rate(switchyard_xds_pushes_total{type="XDS"}[5m])')), /switchyard_xds_pushes_total\{type="XDS"\} has no series/);
    assert.match(mutate((d) => (target(d).legendFormat = '{{group}}')), /legend shows \{\{group\}\}/);
    assert.match(mutate((d) => (target(d).expr = 'rate(switchyard_xds_rebuild_seconds_total[5m])')), /switchyard_xds_rebuild_seconds_total is not exported/);
    assert.match(mutate((d) => (d.templating.list[0].query.query = 'label_values(switchyard_http_requests_total, pod)')), /reads label pod/);
    assert.match(mutate((d) => (d.panels[2].datasource = { type: 'prometheus', uid: 'other' })), /is not the provisioned/);
    assert.match(mutate((d) => (d.panels[2].id = d.panels[1].id)), /used twice/);
    assert.match(mutate((d) => (d.panels[2].targets = [])), /no targets/);
  });

  it('docker-compose.yml runs Prometheus on the /metrics port and Grafana with these files', () => {
    const compose = YAML.parse(read('docker-compose.yml'));
    const prom = YAML.parse(read(PROMETHEUS));
    const job = prom.scrape_configs.find((j: Json) => j.job_name === 'switchyard');
    assert.equal(job.metrics_path ?? '/metrics', '/metrics');
    // The REST port serves /metrics (the default PORT inside the container).
    assert.deepEqual(job.static_configs[0].targets, [`switchyard:${loadConfig({}).PORT}`]);
    const mounts = (svc: string) => new Map<string, string>(compose.services[svc].volumes.map((v: string) => v.split(':').slice(0, 2).reverse() as [string, string]));
    assert.equal(mounts('prometheus').get('/etc/prometheus/prometheus.yml'), `./${PROMETHEUS}`);
    assert.equal(mounts('grafana').get('/etc/grafana/provisioning'), './deploy/grafana/provisioning');
    const provider = YAML.parse(read(PROVIDERS)).providers[0];
    assert.equal(mounts('grafana').get(provider.options.path), './deploy/grafana/dashboards');
    const grafana = compose.services.grafana;
    assert.equal(grafana.environment.GF_AUTH_ANONYMOUS_ENABLED, 'true');
    assert.ok(grafana.ports.includes('3000:3000'));
    for (const svc of ['prometheus', 'grafana']) assert.deepEqual(compose.services[svc].networks, ['yard']);
    assert.ok(compose.services.prometheus.image.startsWith('prom/prometheus:'));
    assert.ok(grafana.image.startsWith('grafana/grafana:'));
  });
});
