import { isDeepStrictEqual } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { badRequestViolations } from '../../src/common/grpc-errors.js';
import { WHOLE_MESSAGE } from '../../src/registry/grpc/decode-guard.js';
import { structToJson } from '../../src/registry/grpc/struct.js';
import { decodeLikeServer, type GrpcCase, type RpcMethod } from './grpc-fuzz.js';

/*
 * What the gRPC fuzzer sends and what it checks in each answer: a status the
 * API documents (never INTERNAL or UNKNOWN; UNAVAILABLE only while the
 * database is down, and only for a request that reached the handlers), an
 * INVALID_ARGUMENT with google.rpc.BadRequest violations naming fields of the
 * request, an answer within a bound that catches a blocked event loop, and
 * the round trip: a resource the API accepted reads back as written and
 * re-applies unchanged (same spec, labels and version).
 */

/** One answer. */
export interface GrpcAnswer {
  code: grpc.status;
  details: string;
  metadata?: grpc.Metadata;
  /** The decoded response (unary), or the first message of a stream. */
  response?: Record<string, any>;
  /** Messages a stream sent before it was cancelled. */
  messages: number;
  ms: number;
}

/** No answer within this long is a hang (a blocked event loop, a lost request); generous, for a loaded machine. */
export const ANSWER_BOUND_MS = 20_000;
/** How long a stream is read before the client cancels it. */
const STREAM_READ_MS = 300;

const identity = (b: Buffer) => b;

/** A client that sends bytes as they are and hands back the answer's bytes (any message, well-formed or not). */
export function rawClient(port: number): grpc.Client {
  return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
}

/** Sends one case; a stream is read for a moment, then cancelled (or its status taken if it ends first). */
export function sendCase(client: grpc.Client, m: RpcMethod, c: GrpcCase): Promise<GrpcAnswer> {
  const start = performance.now();
  const md = new grpc.Metadata();
  if (c.actor !== undefined) md.set('x-switchyard-actor', c.actor);
  const bytes = Buffer.from(c.bytes, 'base64');
  const deadline = Date.now() + ANSWER_BOUND_MS;
  return new Promise<GrpcAnswer>((resolve) => {
    const finish = (a: Omit<GrpcAnswer, 'ms'>) => resolve({ ...a, ms: performance.now() - start });
    if (!m.serverStream) {
      client.makeUnaryRequest(m.path, identity, identity, bytes, md, { deadline }, (err, res) => {
        if (err) return finish({ code: err.code, details: err.details, metadata: err.metadata, messages: 0 });
        try {
          finish({ code: grpc.status.OK, details: '', response: decodeLikeServer(m.responseType, res!), messages: 1 });
        } catch (e) {
          finish({ code: grpc.status.DATA_LOSS, details: `the response does not decode as ${m.responseType.name}: ${(e as Error).message}`, messages: 1 });
        }
      });
      return;
    }
    const call = client.makeServerStreamRequest(m.path, identity, identity, bytes, md, { deadline });
    let messages = 0;
    let first: Record<string, any> | undefined;
    let cancelled = false;
    const timer = setTimeout(() => {
      cancelled = true;
      call.cancel();
    }, STREAM_READ_MS);
    call.on('data', (b: Buffer) => {
      messages++;
      if (!first) first = decodeLikeServer(m.responseType, b);
    });
    call.on('error', () => {
      /* the status says it */
    });
    call.on('status', (s: grpc.StatusObject) => {
      clearTimeout(timer);
      // Our own cancel: the stream was open and answering; that is the expected end.
      finish({ code: cancelled && s.code === grpc.status.CANCELLED ? grpc.status.OK : s.code, details: s.details, metadata: s.metadata, response: first, messages });
    });
  });
}

/** Statuses the API documents (registry.proto's header), besides OK. */
const DOCUMENTED = new Set([grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.ALREADY_EXISTS, grpc.status.FAILED_PRECONDITION, grpc.status.RESOURCE_EXHAUSTED]);

/** Field names of a message type and of every message under it (camelCase as proto-loader gives them, and as in the proto). */
export function fieldNames(t: protobuf.Type, out = new Set<string>(), seen = new Set<string>()): Set<string> {
  if (seen.has(t.fullName)) return out;
  seen.add(t.fullName);
  for (const f of t.fieldsArray) {
    out.add(f.name);
    out.add(f.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
    if (f.resolvedType && 'fieldsArray' in f.resolvedType && !f.resolvedType.fullName.endsWith('google.protobuf.Struct')) fieldNames(f.resolvedType as protobuf.Type, out, seen);
  }
  return out;
}

/**
 * Why an answer breaks the rules; undefined when it keeps them. `dbDown`:
 * UNAVAILABLE is then allowed for a request that decodes (one that does not
 * never reaches the database).
 */
export function answerProblem(a: GrpcAnswer, m: RpcMethod, c: GrpcCase, dbDown: boolean): string | undefined {
  const name = grpc.status[a.code];
  if (a.ms > ANSWER_BOUND_MS) return `answered after ${Math.round(a.ms)} ms`;
  if (a.code === grpc.status.OK) return undefined;
  if (a.code === grpc.status.UNAVAILABLE && dbDown && c.decodes) return a.details ? undefined : 'UNAVAILABLE without details';
  if (!DOCUMENTED.has(a.code)) return `${name}: ${a.details?.slice(0, 300)}`;
  if (!a.details) return `${name} without details`;
  if (a.code === grpc.status.INVALID_ARGUMENT) {
    let violations: { field: string; description: string }[];
    try {
      violations = badRequestViolations(a);
    } catch (e) {
      return `INVALID_ARGUMENT whose grpc-status-details-bin does not decode: ${(e as Error).message}`;
    }
    if (!violations.length) return `INVALID_ARGUMENT without BadRequest field violations: ${a.details.slice(0, 300)}`;
    const names = fieldNames(m.requestType);
    for (const v of violations) {
      if (!v.description) return `violation of ${v.field} without a description`;
      if (v.field === WHOLE_MESSAGE) {
        if (c.decodes) return `a request that decodes refused as undecodable: ${v.description.slice(0, 200)}`;
        continue;
      }
      // The summary ValidationFailed puts last when there are too many (shared with REST).
      if (v.field === '(body)' && /more problems/.test(v.description)) continue;
      // A stored resource's field (Rollback: the state it would leave breaks a reference).
      if (/^resources\[[A-Za-z]+\/[^\]]+\]/.test(v.field)) continue;
      const head = /^[^.[]+/.exec(v.field)?.[0];
      if (!head || !names.has(head)) return `violation field ${JSON.stringify(v.field)} names no field of ${m.requestType.name}: ${v.description.slice(0, 200)}`;
    }
    if (!c.decodes && !violations.some((v) => v.field === WHOLE_MESSAGE)) return 'an undecodable request refused without naming the message';
  } else if (!c.decodes && a.code !== grpc.status.RESOURCE_EXHAUSTED) return `an undecodable request answered ${name}, not INVALID_ARGUMENT: ${a.details.slice(0, 200)}`;
  return undefined;
}

/** What names a stored resource. */
export interface PbKey {
  kind: string;
  name: string;
  service: string;
}

/** The resources an accepted write says it wrote: a Resource answer, or Apply's results (not a dry run). */
export function writtenBy(m: RpcMethod, a: GrpcAnswer): { key: PbKey; written?: Record<string, any> }[] {
  const r = a.response;
  if (a.code !== grpc.status.OK || !r || m.serverStream) return [];
  if (m.responseType.name === 'Resource' && /Create|Update/.test(m.id)) return [{ key: { kind: r.kind, name: r.name, service: r.service }, written: r }];
  if (m.responseType.name === 'ApplyResponse' && !r.dryRun) return (r.results as { ref: PbKey }[]).map((x) => ({ key: { kind: x.ref.kind, name: x.ref.name, service: x.ref.service } }));
  return [];
}

const contents = (r: Record<string, any>) => ({ labels: r.labels ?? {}, spec: structToJson(r.spec) ?? {} });

/** A unary call through the generated client (the round trip speaks the API as a client would). */
type Call = (method: string, req: unknown) => Promise<{ err?: grpc.ServiceError; res?: any }>;

/** Outcome of one round trip. */
export type RoundTrip = { ok: true; skipped?: string } | { ok: false; problem: string };

/**
 * Reads a written resource back (Get) and re-applies it unchanged (Update with
 * its version, or Apply): spec and labels read back as written, and
 * re-applying changes nothing (same spec, labels and version; Apply says
 * `unchanged`).
 */
export async function roundTrip(call: Call, key: PbKey, written: Record<string, any> | undefined, viaApply: boolean): Promise<RoundTrip> {
  const got = await call('Get', { key });
  const at = `${key.kind} ${key.service ? `${key.service}/` : ''}${key.name}`;
  if (got.err) return { ok: false, problem: `Get ${at} after the write: ${grpc.status[got.err.code]} ${got.err.details}` };
  const stored = got.res;
  const status = structToJson(stored.status) ?? {};
  if ('ephemeral' in status) return { ok: true, skipped: 'heartbeat endpoint' };
  if (written && !isDeepStrictEqual(contents(stored), contents(written))) return { ok: false, problem: `Get ${at} differs from the write's answer: ${JSON.stringify(contents(stored)).slice(0, 400)} vs ${JSON.stringify(contents(written)).slice(0, 400)}` };
  const resource = { kind: stored.kind, name: stored.name, service: stored.service, labels: stored.labels, spec: stored.spec };
  const again = viaApply ? await call('Apply', { resources: [resource] }) : await call('Update', { resource, expectedVersion: stored.version });
  if (again.err?.code === grpc.status.FAILED_PRECONDITION && /rollout/i.test(again.err.details)) return { ok: true, skipped: 'owned by a rollout' };
  if (again.err) return { ok: false, problem: `re-applying ${at} unchanged (${viaApply ? 'Apply' : 'Update'}): ${grpc.status[again.err.code]} ${again.err.details}` };
  if (viaApply && again.res.results?.[0]?.result !== 'unchanged') return { ok: false, problem: `re-applying ${at} unchanged through Apply answered ${JSON.stringify(again.res).slice(0, 300)}` };
  const after = await call('Get', { key });
  if (after.err) return { ok: false, problem: `Get ${at} after re-applying: ${grpc.status[after.err.code]} ${after.err.details}` };
  if (!isDeepStrictEqual(contents(after.res), contents(stored))) return { ok: false, problem: `re-applying ${at} changed it: ${JSON.stringify(contents(after.res)).slice(0, 400)} vs ${JSON.stringify(contents(stored)).slice(0, 400)}` };
  if (after.res.version !== stored.version) return { ok: false, problem: `re-applying ${at} unchanged bumped its version ${stored.version} → ${after.res.version}` };
  return { ok: true };
}
