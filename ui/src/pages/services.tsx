import { api, listAll, usePoll } from '../api.js';
import { healthOf, type Res } from '../model.js';
import { ago, Badge, Empty, healthTone, Page } from '../ui.js';

const matches = (labels: Record<string, string> | undefined, sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels?.[k] === v);

async function loadList() {
  const services = await listAll<Res>('/api/v1/services');
  return Promise.all(
    services.map(async (s) => {
      const eps = await listAll<Res>(`/api/v1/services/${s.name}/endpoints`);
      const by: Record<string, number> = {};
      for (const e of eps) by[healthOf(e)] = (by[healthOf(e)] ?? 0) + 1;
      return { s, total: eps.length, by };
    }),
  );
}

/** Every service with its endpoint counts by health. */
export function Services() {
  const polled = usePoll(loadList, 'services');
  return (
    <Page title="Services" polled={polled}>
      {polled.data?.length ? (
        <table>
          <thead>
            <tr>
              <th>service</th>
              <th>protocol</th>
              <th class="num">port</th>
              <th>subsets</th>
              <th>endpoints</th>
            </tr>
          </thead>
          <tbody>
            {polled.data.map(({ s, total, by }) => (
              <tr key={s.name}>
                <td>
                  <a href={`#/services/${s.name}`}>{s.name}</a>
                </td>
                <td>{s.spec.protocol}</td>
                <td class="num">{s.spec.port}</td>
                <td>{(s.spec.subsets ?? []).map((x: { name: string }) => x.name).join(', ') || '—'}</td>
                <td>
                  {total}{' '}
                  {Object.entries(by).map(([h, n]) => (
                    <Badge key={h} tone={healthTone(h)}>
                      {n} {h}
                    </Badge>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <Empty>No service is registered.</Empty>
      )}
    </Page>
  );
}

async function loadOne(name: string) {
  // The endpoint list carries each one's check state and the probe behind it (status.check).
  const [service, endpoints, routes] = await Promise.all([api<Res>('GET', `/api/v1/services/${name}`), listAll<Res>(`/api/v1/services/${name}/endpoints`), listAll<Res>('/api/v1/routes')]);
  const sending = routes
    .map((r) => ({ r, rules: (r.spec.rules ?? []).map((rule: any, i: number) => ({ i, rule })).filter(({ rule }: any) => rule.backends?.some((b: any) => b.service === name)) }))
    .filter((x) => x.rules.length);
  return { service, endpoints, sending };
}

/** One service: its endpoints with health and last probe, its subsets, and the routes that send to it. */
export function ServiceDetail(props: { name: string }) {
  const polled = usePoll(() => loadOne(props.name), `service/${props.name}`);
  const d = polled.data;
  return (
    <Page title={`Service ${props.name}`} polled={polled}>
      {d && (
        <>
          <p class="crumbs">
            <a href="#/services">Services</a> / {props.name} · {d.service.spec.protocol} port {d.service.spec.port} · version {d.service.version}
          </p>
          <h2>Endpoints</h2>
          {d.endpoints.length ? (
            <table data-testid="endpoints">
              <thead>
                <tr>
                  <th>endpoint</th>
                  <th>address</th>
                  <th>labels</th>
                  <th>health</th>
                  <th>check result</th>
                  <th>source</th>
                </tr>
              </thead>
              <tbody>
                {d.endpoints.map((e) => {
                  const probe = e.status?.check?.lastProbe;
                  return (
                    <tr key={e.name}>
                      <td>{e.name}</td>
                      <td class="mono">
                        {e.spec.address}:{e.spec.port}
                      </td>
                      <td class="mono">{Object.entries(e.spec.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(' ') || '—'}</td>
                      <td>
                        <Badge tone={healthTone(healthOf(e))}>{healthOf(e)}</Badge>
                      </td>
                      <td>{probe ? `${probe.ok ? 'ok' : 'failed'}: ${probe.detail} (${probe.ms} ms, ${ago(probe.at)})` : '—'}</td>
                      <td>{e.status?.ephemeral ? 'heartbeat' : 'registry'}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          ) : (
            <Empty>No endpoint is registered.</Empty>
          )}
          <h2>Subsets</h2>
          {(d.service.spec.subsets ?? []).length ? (
            <table>
              <thead>
                <tr>
                  <th>subset</th>
                  <th>labels</th>
                  <th class="num">endpoints</th>
                </tr>
              </thead>
              <tbody>
                {d.service.spec.subsets.map((s: { name: string; labels: Record<string, string> }) => (
                  <tr key={s.name}>
                    <td>{s.name}</td>
                    <td class="mono">{Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(' ')}</td>
                    <td class="num">{d.endpoints.filter((e) => matches(e.spec.labels, s.labels)).length}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty>No subsets.</Empty>
          )}
          <h2>Routes that send traffic here</h2>
          {d.sending.length ? (
            d.sending.map(({ r, rules }) => (
              <div class="route" key={r.name} data-testid={`route-${r.name}`}>
                <h3>
                  {r.name} <span class="muted">hosts {r.spec.hosts.join(', ')}</span>
                </h3>
                {rules.map(({ i, rule }: any) => (
                  <RuleBars key={i} index={i} rule={rule} />
                ))}
              </div>
            ))
          ) : (
            <Empty>No route sends traffic to this service.</Empty>
          )}
        </>
      )}
    </Page>
  );
}

/** One rule's backends, each weight drawn as a bar of its share. */
function RuleBars(props: { index: number; rule: any }) {
  const backends: { service: string; subset?: string; weight: number }[] = props.rule.backends;
  const total = backends.reduce((n, b) => n + b.weight, 0) || 1;
  const match = props.rule.match ? JSON.stringify(props.rule.match) : 'every call';
  return (
    <div class="rule">
      <div class="muted">
        rule {props.index}: {match}
      </div>
      {backends.map((b) => {
        const pct = Math.round((b.weight / total) * 1000) / 10;
        const label = `${b.service}${b.subset ? `/${b.subset}` : ''}`;
        return (
          <div class="bar-row" key={label}>
            <span class="bar-label">{label}</span>
            <span class="bar" role="meter" aria-label={label} aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100}>
              <span class="bar-fill" style={{ width: `${pct}%` }} />
            </span>
            <span class="num">
              {b.weight} ({pct} %)
            </span>
          </div>
        );
      })}
    </div>
  );
}
