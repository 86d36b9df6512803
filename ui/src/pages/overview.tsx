import { api, listAll, usePoll } from '../api.js';
import { healthOf, proxies, proxyState, type Res, RUNNING, servicesWithEndpoints } from '../model.js';
import { Badge, Empty, Page, phaseTone, Stat } from '../ui.js';

async function load() {
  const [fleet, px, rollouts] = await Promise.all([servicesWithEndpoints(), proxies(), listAll<Res>('/api/v1/rollouts')]);
  const health: Record<string, number> = { healthy: 0, unknown: 0, unhealthy: 0, draining: 0 };
  for (const s of fleet) for (const e of s.endpoints) health[healthOf(e)] = (health[healthOf(e)] ?? 0) + 1;
  const groups = new Map<string, number>();
  for (const p of px.items) groups.set(`${p.group} · ${p.clientKind}`, (groups.get(`${p.group} · ${p.clientKind}`) ?? 0) + 1);
  const troubled = px.items.filter((p) => proxyState(p) !== 'acked');
  return { services: fleet.length, endpoints: fleet.reduce((n, s) => n + s.endpoints.length, 0), health, proxies: px.items.length, groups: [...groups].sort(), troubled, running: rollouts.filter((r) => RUNNING.includes(r.status?.rollout?.phase ?? 'Pending')), replica: px.replica };
}

/** Counts of the fleet, proxies in trouble in red, and the running rollouts. */
export function Overview() {
  const polled = usePoll(load, 'overview');
  const d = polled.data;
  return (
    <Page title="Overview" polled={polled}>
      {d && (
        <>
          <div class="stats">
            <Stat label="services" value={d.services} href="#/services" testid="count-services" />
            <Stat label="endpoints" value={d.endpoints} href="#/services" testid="count-endpoints" />
            <Stat label="healthy" value={d.health.healthy} tone="ok" testid="count-healthy" />
            <Stat label="unknown" value={d.health.unknown} tone="none" testid="count-unknown" />
            <Stat label="unhealthy" value={d.health.unhealthy} tone={d.health.unhealthy ? 'bad' : 'none'} testid="count-unhealthy" />
            <Stat label="draining" value={d.health.draining} tone={d.health.draining ? 'warn' : 'none'} testid="count-draining" />
            <Stat label="connected proxies" value={d.proxies} href="#/proxies" testid="count-proxies" />
            <Stat label="out of sync or NACKing" value={d.troubled.length} tone={d.troubled.length ? 'bad' : 'ok'} href="#/proxies" testid="count-troubled" />
          </div>
          <div class="columns">
            <div>
              <h2>Proxies by group and kind</h2>
              {d.groups.length ? (
                <table>
                  <thead>
                    <tr>
                      <th>group · kind</th>
                      <th class="num">proxies</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.groups.map(([g, n]) => (
                      <tr key={g}>
                        <td>{g}</td>
                        <td class="num">{n}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : (
                <Empty>No proxy is connected to replica {d.replica}.</Empty>
              )}
              {d.troubled.length > 0 && (
                <>
                  <h2 class="bad-text">Out of sync or NACKing</h2>
                  <ul class="troubled">
                    {d.troubled.map((p) => (
                      <li key={`${p.id}/${p.streamId}`}>
                        <a href={`#/proxies/${encodeURIComponent(p.id)}`}>{p.id}</a> <Badge tone="bad">{proxyState(p)}</Badge>
                      </li>
                    ))}
                  </ul>
                </>
              )}
            </div>
            <div>
              <h2>Running rollouts</h2>
              {d.running.length ? (
                <table data-testid="running-rollouts">
                  <thead>
                    <tr>
                      <th>rollout</th>
                      <th>service</th>
                      <th>phase</th>
                      <th class="num">canary</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.running.map((r) => (
                      <tr key={r.name}>
                        <td>
                          <a href={`#/rollouts/${r.name}`}>{r.name}</a>
                        </td>
                        <td>{r.spec.service}</td>
                        <td>
                          <Badge tone={phaseTone(r.status.rollout?.phase ?? 'Pending')}>{r.status.rollout?.phase ?? 'Pending'}</Badge>
                        </td>
                        <td class="num">{r.status.rollout?.weights?.canary ?? 0} %</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : (
                <Empty>No rollout is running.</Empty>
              )}
            </div>
          </div>
        </>
      )}
    </Page>
  );
}

/** Used by the header: the version of the control plane. */
export const version = () => api<{ version: string }>('GET', '/api/v1/version');
