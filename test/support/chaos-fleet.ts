import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import { request } from './app.js';
import { attempt, type Outcome, startEchoBackend, type EchoBackend } from './echo-backends.js';
import { echoEndpoint, echoRoute, echoService, edgeListener } from './fixtures.js';
import { eventually, useXds, xdsClient } from './xds-client.js';

/** Memory of a process from /proc/<pid>/status: resident now and its high-water mark, bytes. */
export function procMemory(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)\\s+kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/**
 * Samples a process's VmRSS every `everyMs` until stopped; the peak is the
 * larger of the sampled maximum and the kernel's VmHWM (which sees spikes
 * between samples).
 */
export function sampleRss(pid: number, everyMs = 100): { stop(): { peakRss: number; hwm: number; samples: number; last: number; first: number } } {
  // Reset the high-water mark to the current RSS (clear_refs 5), so VmHWM is the peak of this window, not of start-up.
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    /* not permitted: VmHWM then covers the whole life of the process */
  }
  let max = 0;
  let n = 0;
  let last = NaN;
  const read = () => {
    try {
      last = procMemory(pid).rss;
      max = Math.max(max, last);
      n++;
    } catch {
      /* the process is gone: the caller's assertions say so */
    }
  };
  read();
  const first = last;
  const t = setInterval(read, everyMs);
  return {
    stop() {
      clearInterval(t);
      read();
      let hwm = NaN;
      try {
        hwm = procMemory(pid).hwm;
      } catch {
        /* gone */
      }
      return { peakRss: Math.max(max, Number.isNaN(hwm) ? 0 : hwm), hwm, samples: n, last, first };
    },
  };
}

/** Calls in a loop until stopped, keeping every outcome: the steady traffic a fault must not disturb. */
export function steadyCalls(client: grpc.Client, concurrency = 2, pauseMs = 20): { stop(): Promise<Outcome[]>; count(): number } {
  const out: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      out.push(await attempt(client, undefined, 5000));
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    count: () => out.length,
    async stop() {
      running = false;
      await Promise.all(loops);
      return out;
    },
  };
}

/** NACKs a control plane has seen, from its /metrics. */
export async function nacksAt(base: string): Promise<number> {
  const text = (await request(base, 'GET', '/metrics')).text;
  return [...text.matchAll(/^switchyard_xds_nacks_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
}

/** One counter (summed over its labels) from a control plane's /metrics. */
export async function metricAt(base: string, name: string): Promise<number> {
  const text = (await request(base, 'GET', '/metrics')).text;
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
}

/** A real grpc-js-xds client of the `echo` service on two real backends, configured by a control plane. */
export interface EchoXds {
  client: grpc.Client;
  backends: EchoBackend[];
  stop(): Promise<void>;
}

/**
 * Applies the echo service (two real backends, route, listener) to the
 * control plane at `base`, points this process's grpc-js-xds at `xdsPort` as
 * `nodeId`, and waits until a call succeeds.
 */
export async function startEchoXds(base: string, xdsPort: number, nodeId: string): Promise<EchoXds> {
  const backends = [await startEchoBackend('a'), await startEchoBackend('b')];
  const r = await request(base, 'POST', '/api/v1/apply', [echoService(), echoEndpoint('a', 'v1', backends[0].port), echoEndpoint('b', 'v1', backends[1].port), echoRoute(100, 0), edgeListener()]);
  assert.equal(r.status, 200, r.text);
  useXds(xdsPort, nodeId);
  const client = xdsClient('echo');
  await eventually(async () => {
    const o = await attempt(client, undefined, 2000);
    assert.ok(o.server, `first call: ${o.code} ${o.details}`);
  }, 30_000);
  return {
    client,
    backends,
    async stop() {
      client.close();
      await Promise.all(backends.map((b) => b.stop()));
    },
  };
}

/** Outcomes that failed, by status, for an assertion message. */
export function failures(os: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of os) if (!o.server) out[`${o.code} ${o.details ?? ''}`] = (out[`${o.code} ${o.details ?? ''}`] ?? 0) + 1;
  return out;
}
