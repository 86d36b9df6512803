import { useState } from 'preact/hooks';
import { api, listAll, usePoll } from '../api.js';
import { type Res, RUNNING } from '../model.js';
import { TimeChart } from '../chart.js';
import { ago, Badge, Empty, Page, phaseTone } from '../ui.js';


/** Every rollout with its phase and weights. */
export function Rollouts() {
  const polled = usePoll(() => listAll<Res>('/api/v1/rollouts'), 'rollouts');
  return (
    <Page title="Rollouts" polled={polled}>
      {polled.data?.length ? (
        <table data-testid="rollouts">
          <thead>
            <tr>
              <th>rollout</th>
              <th>service</th>
              <th>stable → canary</th>
              <th>phase</th>
              <th>step</th>
              <th class="num">canary weight</th>
              <th>message</th>
            </tr>
          </thead>
          <tbody>
            {polled.data.map((r) => {
              const s = r.status.rollout;
              return (
                <tr key={r.name}>
                  <td>
                    <a href={`#/rollouts/${r.name}`}>{r.name}</a>
                  </td>
                  <td>{r.spec.service}</td>
                  <td>
                    {r.spec.stable} → {r.spec.canary}
                  </td>
                  <td>
                    <Badge tone={phaseTone(s?.phase)}>{s?.phase ?? 'Pending'}</Badge>
                  </td>
                  <td>
                    {Math.min(s?.step ?? 0, r.spec.steps.length)} / {r.spec.steps.length}
                  </td>
                  <td class="num">{s?.weights?.canary ?? 0} %</td>
                  <td>{s?.message ?? ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : (
        <Empty>No rollout.</Empty>
      )}
    </Page>
  );
}

const stepText = (s: any) => (s.setWeight !== undefined ? `set weight ${s.setWeight} %` : s.setHeaderRoute ? `header route ${s.setHeaderRoute.name}${s.setHeaderRoute.exact ? ` = ${s.setHeaderRoute.exact}` : ''}` : s.pause?.seconds ? `pause ${s.pause.seconds} s` : 'pause until promoted');

/** One rollout: its steps, live charts of weight and success rates with the thresholds, and the actions. */
export function RolloutDetail(props: { name: string }) {
  const polled = usePoll(() => api<Res>('GET', `/api/v1/rollouts/${props.name}`), `rollout/${props.name}`);
  const [acting, setActing] = useState<string | undefined>();
  const [actionError, setActionError] = useState<string | undefined>();
  const r = polled.data;
  const s = r?.status.rollout;
  const act = async (action: string) => {
    setActing(action);
    setActionError(undefined);
    try {
      await api('POST', `/api/v1/rollouts/${props.name}/${action}`);
      polled.reload();
    } catch (e) {
      setActionError((e as Error).message);
    } finally {
      setActing(undefined);
    }
  };
  const running = RUNNING.includes(s?.phase ?? 'Pending');
  const timeline: any[] = s?.timeline ?? [];
  const x = timeline.map((p) => Date.parse(p.at) / 1000);
  const min = r?.spec.analysis?.metrics?.find((m: any) => m.name === 'successRate')?.min;
  const drop = r?.spec.analysis?.metrics?.find((m: any) => m.name === 'successRateVsStable')?.maxDropPoints;
  const rates = [
    { label: 'canary success %', color: '#d9480f', values: timeline.map((p) => p.canarySuccessRate ?? null) },
    { label: 'stable success %', color: '#1c7ed6', values: timeline.map((p) => p.stableSuccessRate ?? null) },
    ...(min !== undefined ? [{ label: `threshold ≥ ${min} %`, color: '#c92a2a', dash: [6, 4], values: timeline.map(() => min) }] : []),
    ...(drop !== undefined ? [{ label: `stable − ${drop} points`, color: '#862e9c', dash: [2, 4], values: timeline.map((p) => (p.stableSuccessRate == null ? null : p.stableSuccessRate - drop)) }] : []),
  ];
  return (
    <Page
      title={`Rollout ${props.name}`}
      polled={polled}
      actions={
        <span class="actions">
          {(['promote', 'pause', 'resume', 'abort'] as const).map((a) => (
            <button key={a} type="button" class={a === 'abort' ? 'danger' : ''} disabled={!running || acting !== undefined} onClick={() => act(a)} data-action={a}>
              {a}
            </button>
          ))}
        </span>
      }
    >
      {r && (
        <>
          <p class="crumbs">
            <a href="#/rollouts">Rollouts</a> / {props.name} · service {r.spec.service}: {r.spec.stable} → {r.spec.canary}
          </p>
          {actionError && (
            <p class="error" role="alert">
              {actionError}
            </p>
          )}
          <p>
            <Badge tone={phaseTone(s?.phase)}>
              <span data-testid="phase">{s?.phase ?? 'Pending'}</span>
            </Badge>{' '}
            canary {s?.weights?.canary ?? 0} %, stable {s?.weights?.stable ?? 100} % · {s?.message}
          </p>
          <div class="columns">
            <div>
              <h2>Steps</h2>
              <ol class="steps" data-testid="steps">
                {r.spec.steps.map((step: any, i: number) => (
                  <li key={i} class={i === s?.step && running ? 'current' : i < (s?.step ?? 0) ? 'done' : ''}>
                    {stepText(step)}
                    {i === s?.step && running && <span class="muted"> ← current, since {ago(s.stepStartedAt)}</span>}
                  </li>
                ))}
              </ol>
              {s?.lastAnalysis && (
                <>
                  <h2>Last analysis</h2>
                  <p>
                    <Badge tone={s.lastAnalysis.result === 'Successful' ? 'ok' : s.lastAnalysis.result === 'Failed' ? 'bad' : 'warn'}>{s.lastAnalysis.result}</Badge> {ago(s.lastAnalysis.at)}: {s.lastAnalysis.message}
                  </p>
                </>
              )}
              <h2>History</h2>
              <ul class="history">
                {(s?.history ?? []).map((h: any, i: number) => (
                  <li key={i}>
                    <span class="mono">{new Date(h.at).toLocaleTimeString()}</span> {h.from ?? '—'} → {h.to}: {h.reason}
                  </li>
                ))}
              </ul>
            </div>
            <div>
              <h2>Canary weight</h2>
              {timeline.length ? <TimeChart title="" testid="chart-weight" x={x} series={[{ label: 'canary weight %', color: '#2f9e44', values: timeline.map((p) => p.canaryWeight) }]} /> : <Empty>No weight change yet.</Empty>}
              <h2>Success rate</h2>
              {timeline.some((p) => p.canarySuccessRate != null) ? <TimeChart title="" testid="chart-success" x={x} series={rates} /> : <Empty>No analysis yet{r.spec.analysis ? '' : ': this rollout has none'}.</Empty>}
            </div>
          </div>
        </>
      )}
    </Page>
  );
}
