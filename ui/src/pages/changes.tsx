import { createTwoFilesPatch } from 'diff';
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api, usePoll } from '../api.js';
import { Empty, Page } from '../ui.js';

interface Change {
  revision: number;
  kind: string;
  name: string;
  service?: string;
  version: number;
  op: string;
  actor: string;
  at: string;
  object?: any;
}

const PLURAL: Record<string, string> = { Service: 'services', Route: 'routes', Listener: 'listeners', Policy: 'policies', Rollout: 'rollouts' };
const SHOWN = 50;

async function load() {
  const head = await api<{ revision: number }>('GET', '/api/v1/changes?limit=1&since=0');
  const since = Math.max(0, head.revision - SHOWN);
  const page = await api<{ changes: Change[] }>('GET', `/api/v1/changes?since=${since}&limit=${SHOWN}&withObjects=true`);
  return page.changes.reverse();
}

/** The resource path of a change's history, when its kind keeps one here. */
const historyOf = (c: Change) => (c.kind === 'Endpoint' ? `/api/v1/services/${c.service}/endpoints/${c.name}/history` : PLURAL[c.kind] ? `/api/v1/${PLURAL[c.kind]}/${c.name}/history` : undefined);
const text = (o: any) => (o ? JSON.stringify({ labels: o.labels, spec: o.spec }, null, 2) + '\n' : '');

/** The change log, newest first; a change opens as a diff against the version before it. */
export function Changes() {
  const polled = usePoll(load, 'changes', 3000);
  const [open, setOpen] = useState<{ rev: number; patch?: string; error?: string } | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const show = async (c: Change) => {
    if (open?.rev === c.revision) return setOpen(undefined);
    setOpen({ rev: c.revision });
    try {
      const path = historyOf(c);
      const before = c.version > 1 && path ? await api('GET', `${path}/${c.version - 1}`).catch(() => undefined) : undefined;
      const after = c.op === 'delete' ? undefined : c.object;
      setOpen({ rev: c.revision, patch: createTwoFilesPatch(`${c.kind} ${c.name} v${c.version - 1}`, `${c.kind} ${c.name} v${c.version}`, text(before?.object ?? before), text(after), '', '', { context: 4 }) });
    } catch (e) {
      setOpen({ rev: c.revision, error: (e as Error).message });
    }
  };
  const rollback = async (c: Change) => {
    const who = c.kind === 'Endpoint' ? `${c.service}/${c.name}` : c.name;
    if (!confirm(`Put ${c.kind} ${who} back as it was before revision ${c.revision}?`)) return;
    try {
      await api('POST', '/api/v1/rollback', { toRevision: c.revision - 1, kinds: [c.kind], names: [who] });
      setNote(`${c.kind} ${who} rolled back to revision ${c.revision - 1}`);
      polled.reload();
    } catch (e) {
      setNote((e as Error).message);
    }
  };
  return (
    <Page title="Changes" polled={polled}>
      {note && (
        <p class="note" data-testid="note">
          {note}
        </p>
      )}
      {polled.data?.length ? (
        <table data-testid="changes">
          <thead>
            <tr>
              <th class="num">revision</th>
              <th>when</th>
              <th>change</th>
              <th>by</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {polled.data.map((c) => (
              <Fragment key={c.revision}>
                <tr class="clickable" onClick={() => show(c)} data-revision={c.revision}>
                  <td class="num">{c.revision}</td>
                  <td>{new Date(c.at).toLocaleString()}</td>
                  <td>
                    {c.op} {c.kind} {c.service ? `${c.service}/` : ''}
                    {c.name} → v{c.version}
                  </td>
                  <td>{c.actor}</td>
                  <td>
                    {c.kind !== 'Config' && (
                      <button
                        type="button"
                        data-action="rollback"
                        onClick={(e) => {
                          e.stopPropagation();
                          void rollback(c);
                        }}
                      >
                        roll back
                      </button>
                    )}
                  </td>
                </tr>
                {open?.rev === c.revision && (
                  <tr key={`${c.revision}-diff`}>
                    <td colSpan={5}>
                      {open.error ? <p class="error">{open.error}</p> : open.patch ? <Diff patch={open.patch} /> : 'loading…'}
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      ) : (
        <Empty>No change yet.</Empty>
      )}
    </Page>
  );
}

/** A unified diff, added lines green and removed lines red. */
function Diff(props: { patch: string }) {
  const lines = props.patch.split('\n').slice(2);
  return (
    <pre class="diff" data-testid="diff">
      {lines.map((l, i) => (
        <div key={i} class={l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : l.startsWith('@@') ? 'hunk' : ''}>
          {l || ' '}
        </div>
      ))}
    </pre>
  );
}
