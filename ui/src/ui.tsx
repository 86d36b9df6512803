import type { ComponentChildren } from 'preact';
import type { Polled } from './api.js';

/** A page's frame: its title, when its data was last updated, and the last error (old data stays on screen). */
export function Page(props: { title: string; polled: Polled<unknown>; actions?: ComponentChildren; children: ComponentChildren }) {
  const { polled } = props;
  return (
    <section class="page" data-page={props.title}>
      <header class="page-head">
        <h1>{props.title}</h1>
        <div class="page-meta">
          {props.actions}
          <span class="updated" data-testid="updated">
            {polled.updatedAt ? `updated ${polled.updatedAt.toLocaleTimeString()}` : 'loading…'}
          </span>
        </div>
      </header>
      {polled.error && (
        <p class="error" role="alert">
          {polled.error}
        </p>
      )}
      {polled.data !== undefined && props.children}
    </section>
  );
}

/** A small coloured label: green for good, red for bad, grey otherwise. */
export function Badge(props: { tone: 'ok' | 'bad' | 'warn' | 'none'; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${props.tone}`} title={props.title}>
      {props.children}
    </span>
  );
}

/** The tone of a health state. */
export const healthTone = (s: string | undefined): 'ok' | 'bad' | 'warn' | 'none' =>
  s === 'healthy' ? 'ok' : s === 'unhealthy' ? 'bad' : s === 'draining' ? 'warn' : 'none';

/** A rollout phase's badge tone: done is green, failed, aborted or rolling back red, still moving amber. */
export const phaseTone = (p?: string): 'ok' | 'bad' | 'warn' | 'none' => (p === 'Succeeded' ? 'ok' : p === 'Failed' || p === 'Aborted' || p === 'RollingBack' ? 'bad' : p ? 'warn' : 'none');

/** A number card on the overview. */
export function Stat(props: { label: string; value: number | string; tone?: 'ok' | 'bad' | 'warn' | 'none'; href?: string; testid?: string }) {
  const body = (
    <>
      <div class={`stat-value ${props.tone ?? ''}`} data-testid={props.testid}>
        {props.value}
      </div>
      <div class="stat-label">{props.label}</div>
    </>
  );
  return <div class="stat">{props.href ? <a href={props.href}>{body}</a> : body}</div>;
}

/** Time since an ISO instant, short ("4 s ago", "3 min ago"). */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** An empty list, said in words. */
export const Empty = (props: { children: ComponentChildren }) => <p class="empty">{props.children}</p>;
