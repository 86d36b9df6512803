import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { type FieldViolation, ValidationFailed } from '../common/errors.js';
import { CONFIG_NAME, CONFIG_NAME_MESSAGE, CONFIG_NAMESPACE, CONFIG_NAMESPACE_MESSAGE } from '../registry/dto/config.dto.js';
import { LABEL_KEY, LABEL_VALUE } from '../registry/label-selector.js';
import { ConfigHub, type EncodedUpdate, type WatchHandle, type WatchRequest } from './config-hub.js';
import type { Transport } from './instance-board.js';

const SSE_PING_MS = 15_000;

/** What a watch asks for, before checking. */
export interface RawWatch {
  namespace?: string;
  group?: string;
  names?: string[];
  instanceId?: string;
  labels?: Record<string, string>;
  known?: Record<string, number>;
}

/** Checks a watch request (gRPC or HTTP) and names every bad field. */
export function checkWatch(raw: RawWatch, transport: Transport): WatchRequest {
  const v: FieldViolation[] = [];
  if (!raw.namespace || !CONFIG_NAMESPACE.test(raw.namespace)) v.push({ field: 'namespace', message: raw.namespace ? CONFIG_NAMESPACE_MESSAGE : 'is required' });
  if (!raw.group || !CONFIG_NAME.test(raw.group)) v.push({ field: 'group', message: raw.group ? CONFIG_NAME_MESSAGE : 'is required' });
  const names = raw.names ?? [];
  names.forEach((n, i) => CONFIG_NAME.test(n) || v.push({ field: `names[${i}]`, message: CONFIG_NAME_MESSAGE }));
  if (names.length > 1000) v.push({ field: 'names', message: 'must list at most 1000 configs' });
  const instanceId = raw.instanceId ?? '';
  if (instanceId.length > 256) v.push({ field: 'instanceId', message: 'must be at most 256 characters' });
  const labels = raw.labels ?? {};
  for (const [k, val] of Object.entries(labels)) {
    if (!LABEL_KEY.test(k)) v.push({ field: `labels.${k}`, message: 'is not a valid label key' });
    else if (!LABEL_VALUE.test(val) || val.length > 63) v.push({ field: `labels.${k}`, message: 'is not a valid label value' });
  }
  const known: Record<string, number> = {};
  for (const [k, rev] of Object.entries(raw.known ?? {})) {
    if (!CONFIG_NAME.test(k)) v.push({ field: `known.${k}`, message: 'is not a config name' });
    else if (!Number.isSafeInteger(rev) || rev < 0) v.push({ field: `known.${k}`, message: 'must be a revision (an integer >= 0)' });
    else if (rev > 0) known[k] = rev;
  }
  if (v.length) throw new ValidationFailed(v);
  return { namespace: raw.namespace!, group: raw.group!, names: [...new Set(names)], instanceId, labels, known, transport };
}

/** `env=gray,zone=a` → map (the HTTP form of labels). */
export function parseLabelList(text: string | undefined, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const part of text.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\S*)\s*$/.exec(part);
    if (!m) throw new ValidationFailed([{ field, message: `expected key=value, got ${JSON.stringify(part)}` }]);
    out[m[1]] = m[2];
  }
  return out;
}

/** `a:3,b:5` (or `a=3,b=5`, as SSE event ids carry it) → map. */
export function parseKnown(text: string | undefined, field: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (!text) return out;
  for (const part of text.split(',')) {
    if (!part.trim()) continue;
    const m = /^\s*([^:=\s]+)\s*[:=]\s*(\d{1,15})\s*$/.exec(part);
    if (!m) throw new ValidationFailed([{ field, message: `expected name:revision, got ${JSON.stringify(part)}` }]);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

export const knownText = (m: Map<string, number>) => [...m].map(([k, v]) => `${k}=${v}`).join(',');

/**
 * Writes updates to a byte stream without letting a slow reader pile them
 * up: while the stream is backed up, only the latest update of each config
 * waits, and it goes out on drain.
 */
export class LatestFirst {
  private readonly pending = new Map<string, EncodedUpdate>();
  private blocked = false;

  constructor(
    private readonly write: (u: EncodedUpdate) => boolean,
    onDrain: (fn: () => void) => void,
  ) {
    onDrain(() => {
      this.blocked = false;
      const list = [...this.pending.values()];
      this.pending.clear();
      this.push(list);
      if (!this.blocked) for (const fn of this.then.splice(0)) fn();
    });
  }

  private readonly then: (() => void)[] = [];

  /** Runs `fn` (a marker write) after what is waiting has been written. */
  after(fn: () => void): void {
    if (this.blocked) this.then.push(fn);
    else fn();
  }

  push(updates: EncodedUpdate[]): void {
    for (const u of updates) {
      if (this.blocked) {
        this.pending.delete(u.name); // keep the insertion order of the latest
        this.pending.set(u.name, u);
      } else if (!this.write(u)) this.blocked = true;
    }
  }
}

interface WatchQuery {
  namespace?: string;
  group?: string;
  names?: string;
  instanceId?: string;
  labels?: string;
  known?: string;
  timeoutMs?: number;
}

/** The HTTP transports of config watching: a long poll (as in Nacos) and server-sent events. */
@Injectable()
export class ConfigWatchService {
  constructor(private readonly hub: ConfigHub) {}

  private request(q: WatchQuery, transport: Transport, known?: string): WatchRequest {
    return checkWatch(
      {
        namespace: q.namespace,
        group: q.group,
        names: q.names ? q.names.split(',').map((n) => n.trim()).filter(Boolean) : [],
        instanceId: q.instanceId,
        labels: parseLabelList(q.labels, 'labels'),
        known: parseKnown(known ?? q.known, known !== undefined ? 'Last-Event-ID' : 'known'),
      },
      transport,
    );
  }

  /** Answers at once when something differs from `known`, else at the first change or after timeoutMs with no updates. */
  longPoll(q: WatchQuery, res: Response): void {
    const w = this.request(q, 'long-poll');
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let handle: WatchHandle | undefined;
    const finish = (updates: EncodedUpdate[] | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      handle?.close();
      // Each update's JSON was encoded once by the hub: the body is those bytes joined.
      if (updates && !res.headersSent && !res.destroyed) res.status(200).type('application/json').send(`{"updates":[${updates.map((u) => u.json).join(',')}]}`);
    };
    // The initial state (what differs from `known`) is answered whole; after it, the first change answers.
    let initial: EncodedUpdate[] | undefined = [];
    handle = this.hub.watch(w, {
      push: (u) => (initial ? initial.push(...u) : finish(u)),
      synced: () => {
        const first = initial!;
        initial = undefined;
        if (first.length) finish(first);
        else if (!done) timer = setTimeout(() => finish([]), q.timeoutMs ?? 30_000);
      },
      end: () => finish(initial ?? []),
    });
    if (done) return handle.close();
    res.on('close', () => finish(undefined));
  }

  /** Server-sent events: one `config` event per update; each event id is what the client holds after it (send it back as Last-Event-ID). */
  stream(q: WatchQuery, req: Request, res: Response): void {
    const lastEventId = req.headers['last-event-id'];
    const w = this.request(q, 'sse', typeof lastEventId === 'string' ? lastEventId : undefined);
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    const held = new Map(Object.entries(w.known));
    const out = new LatestFirst(
      (u) => {
        if (u.deleted) held.delete(u.name);
        else held.set(u.name, u.revision);
        return res.write(`id: ${knownText(held)}\nevent: config\ndata: ${u.json}\n\n`);
      },
      (fn) => res.on('drain', fn),
    );
    res.write(`: watching ${w.namespace}/${w.group}\n\n`);
    const handle = this.hub.watch(w, { push: (u) => out.push(u), synced: () => out.after(() => res.write(`event: synced\ndata: {}\n\n`)), end: () => res.end() });
    const ping = setInterval(() => res.write(': ping\n\n'), SSE_PING_MS);
    ping.unref();
    res.on('close', () => {
      clearInterval(ping);
      handle.close();
    });
  }
}
