import { api, usePoll } from '../api.js';
import { proxies, proxyState, typeState, type TypeStatus } from '../model.js';
import { ago, Badge, Empty, Page } from '../ui.js';

const TYPES = ['CDS', 'EDS', 'LDS', 'RDS'];
const short = (v?: string) => (v ? v.slice(0, 8) : '—');

function TypeCell(props: { t?: TypeStatus }) {
  const t = props.t;
  if (!t) return <td class="muted">not subscribed</td>;
  const s = typeState(t);
  return (
    <td class={s === 'acked' ? '' : 'bad-cell'}>
      <Badge tone={s === 'acked' ? 'ok' : s === 'nacked' ? 'bad' : 'warn'} title={`sent ${t.lastSentVersion ?? '—'} ${ago(t.lastSentAt)}; acked ${t.lastAckedVersion ?? '—'} ${ago(t.lastAckedAt)}`}>
        {s}
      </Badge>{' '}
      <span class="mono">{short(s === 'acked' ? t.lastAckedVersion : t.lastSentVersion)}</span>
      {s === 'nacked' && t.lastNack && <div class="nack">{t.lastNack.message}</div>}
    </td>
  );
}

/** The proxy-status view: per proxy and type, sent, ACKed or NACKed with the error. */
export function Proxies() {
  const polled = usePoll(proxies, 'proxies');
  const d = polled.data;
  return (
    <Page title="Proxies" polled={polled}>
      {d && (
        <>
          <p class="muted">
            Streams on replica {d.replica}
            {d.leader ? ` (leader ${d.leader.id})` : ''}.
          </p>
          {d.items.length ? (
            <table data-testid="proxies">
              <thead>
                <tr>
                  <th>proxy</th>
                  <th>group</th>
                  <th>kind</th>
                  <th>protocol</th>
                  <th>connected</th>
                  {TYPES.map((t) => (
                    <th key={t}>{t}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {d.items.map((p) => (
                  <tr key={`${p.id}/${p.streamId}`} class={proxyState(p) === 'acked' ? '' : 'bad-row'} data-proxy={p.id}>
                    <td>
                      <a href={`#/proxies/${encodeURIComponent(p.id)}`}>{p.id}</a>
                    </td>
                    <td>{p.group}</td>
                    <td>{p.clientKind}</td>
                    <td>{p.protocol}</td>
                    <td>{ago(p.connectedAt)}</td>
                    {TYPES.map((t) => (
                      <TypeCell key={t} t={p.types[t]} />
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty>No proxy is connected to this replica.</Empty>
          )}
        </>
      )}
    </Page>
  );
}

/** What one proxy holds, as the API's proxy-config view returns it. */
export function ProxyConfig(props: { id: string }) {
  const polled = usePoll(() => api('GET', `/api/v1/proxies/${encodeURIComponent(props.id)}/config`), `proxy/${props.id}`, 5000);
  return (
    <Page title={`Proxy ${props.id}`} polled={polled}>
      <p class="crumbs">
        <a href="#/proxies">Proxies</a> / {props.id}
      </p>
      <pre class="json" data-testid="proxy-config">
        {JSON.stringify(polled.data, null, 2)}
      </pre>
    </Page>
  );
}
