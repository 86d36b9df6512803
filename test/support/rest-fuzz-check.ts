import { request } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { stringify as toYaml } from 'yaml';
import type { FuzzRequest, OpenApiDocument, Schema } from './api-fuzz.js';

/*
 * What the REST fuzzer sends and what it checks in each answer: no 5xx (503
 * only while the database is down), every 4xx and 503 body of the documented
 * ErrorBody shape, an answer within a bound that catches a blocked event loop,
 * and the round trip: a resource the API accepted reads back as written and
 * re-applies unchanged (same spec and labels, same version).
 */

/** One answer, as the fuzzer keeps it. */
export interface Answer {
  status: number;
  contentType: string;
  text: string;
  body: unknown;
  ms: number;
  /** A stream or long poll whose headers did not come within the wait (not an error). */
  held?: boolean;
  /** A body over the server's limit, refused (413) before it was read, the connection then closed under the rest of it (not an error). */
  cutOff?: boolean;
}

/** The server's body limit (BODY_LIMIT_BYTES default, 2 MiB). */
export const BODY_LIMIT = 2 * 1024 * 1024;

/** No answer within this long is a hang (a blocked event loop, a lost request); generous, for a loaded machine. */
export const ANSWER_BOUND_MS = 20_000;
/** How long to wait for a stream's or a long poll's headers before leaving it. */
const STREAM_WAIT_MS = 1_500;

/**
 * Sends one generated request; streams are left once their headers come.
 * Each request on a new connection (node:http, no agent): a kept-alive
 * socket the server closed at its idle timeout is reset under the next
 * request (fetch's pool hit that between phases), which says nothing about
 * the server's answer to that request.
 */
export function send(base: string, r: FuzzRequest, streaming: boolean): Promise<Answer> {
  const start = performance.now();
  const url = new URL(base);
  return new Promise<Answer>((resolve) => {
    let done = false;
    const finish = (a: Omit<Answer, 'ms'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...a, ms: performance.now() - start });
    };
    const body = r.body === undefined ? undefined : Buffer.from(r.body, 'utf8');
    const req = request({ host: url.hostname, port: url.port, method: r.method, path: r.path, agent: false, headers: { ...r.headers, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      const contentType = String(res.headers['content-type'] ?? '');
      const status = res.statusCode ?? 0;
      if (contentType.startsWith('text/event-stream')) return finish({ status, contentType, text: '', body: undefined });
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => finish({ status: 0, contentType: '', text: `answer broken off: ${e.message}`, body: undefined }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON: the shape check says so */
        }
        finish({ status, contentType, text, body: parsed });
      });
    });
    const timer = setTimeout(
      () => finish(streaming ? { status: 0, contentType: '', text: '', body: undefined, held: true } : { status: 0, contentType: '', text: `no answer within ${ANSWER_BOUND_MS} ms`, body: undefined }),
      streaming ? STREAM_WAIT_MS : ANSWER_BOUND_MS,
    );
    req.on('error', (e) => {
      const code = (e as NodeJS.ErrnoException).code;
      if (body && body.length > BODY_LIMIT && (code === 'EPIPE' || code === 'ECONNRESET')) return finish({ status: 0, contentType: '', text: e.message, body: undefined, cutOff: true });
      finish({ status: 0, contentType: '', text: `request failed: ${e.message}`, body: undefined });
    });
    req.end(body);
  });
}

const OPTIONAL_FIELDS: Record<string, (v: unknown) => boolean> = {
  violations: (v) => Array.isArray(v) && v.every((x) => isObject(x) && typeof x.field === 'string' && typeof x.message === 'string'),
  referrers: (v) => Array.isArray(v) && v.every((x) => isObject(x) && typeof x.kind === 'string' && typeof x.name === 'string'),
  currentVersion: (v) => Number.isInteger(v),
  field: (v) => typeof v === 'string',
  rollout: (v) => typeof v === 'string',
  phase: (v) => typeof v === 'string',
};

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Why an error answer's body is not the documented ErrorBody (statusCode, error, message; typed optional fields); undefined when it is. */
export function errorBodyProblem(a: Answer): string | undefined {
  if (!a.contentType.startsWith('application/json')) return `content-type ${a.contentType || '(none)'}, not application/json`;
  const b = a.body;
  if (!isObject(b)) return 'body is not a JSON object';
  if (b.statusCode !== a.status) return `statusCode ${JSON.stringify(b.statusCode)} is not the status ${a.status}`;
  if (typeof b.error !== 'string' || !b.error) return 'error is not a non-empty string';
  if (typeof b.message !== 'string') return 'message is not a string';
  for (const [k, ok] of Object.entries(OPTIONAL_FIELDS)) if (k in b && !ok(b[k])) return `${k} is not of the documented type: ${JSON.stringify(b[k]).slice(0, 200)}`;
  if (a.status === 400 && b.message === 'validation failed' && !(Array.isArray(b.violations) && b.violations.length)) return 'validation failed without violations';
  return undefined;
}

/** Why a value does not fit an OpenAPI schema (types, required properties, enums; nested); undefined when it fits. */
export function schemaProblem(doc: OpenApiDocument, schema: Schema & { nullable?: boolean }, v: unknown, at = '(body)'): string | undefined {
  if (schema.$ref) return schemaProblem(doc, doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')], v, at);
  if (v === null && schema.nullable) return undefined;
  if (schema.allOf) for (const s of schema.allOf) { const p = schemaProblem(doc, s, v, at); if (p) return p; }
  const alts = schema.oneOf ?? schema.anyOf;
  if (alts && !alts.some((s) => schemaProblem(doc, s, v, at) === undefined)) return `${at} fits none of its alternatives`;
  if (schema.enum && !schema.enum.includes(v)) return `${at} is ${JSON.stringify(v)}, not one of ${JSON.stringify(schema.enum)}`;
  const type = schema.type ?? (schema.properties ? 'object' : undefined);
  const ok: Record<string, (x: unknown) => boolean> = { object: isObject, array: Array.isArray, string: (x) => typeof x === 'string', integer: Number.isInteger, number: (x) => typeof x === 'number', boolean: (x) => typeof x === 'boolean' };
  if (type && ok[type] && !ok[type](v)) return `${at} is ${JSON.stringify(v)?.slice(0, 80)}, not ${type}`;
  if (type === 'object' && isObject(v)) {
    for (const k of schema.required ?? []) if (!(k in v)) return `${at}.${k} is missing`;
    for (const [k, s] of Object.entries(schema.properties ?? {})) if (k in v) { const p = schemaProblem(doc, s, v[k], `${at}.${k}`); if (p) return p; }
  }
  if (type === 'array' && Array.isArray(v) && schema.items) for (const [i, x] of v.entries()) { const p = schemaProblem(doc, schema.items, x, `${at}[${i}]`); if (p) return p; }
  return undefined;
}

/**
 * Why an answer breaks the rules; undefined when it keeps them. `dbDown`: 503
 * is then allowed. An error body must fit what the operation documents for
 * that status; where it documents none, the common ErrorBody.
 */
export function answerProblem(a: Answer, dbDown: boolean, doc?: OpenApiDocument, documented?: Schema): string | undefined {
  if (a.held || a.cutOff) return undefined;
  if (a.status === 0) return a.text;
  if (a.ms > ANSWER_BOUND_MS) return `answered after ${Math.round(a.ms)} ms`;
  if (a.status >= 500 && !(dbDown && a.status === 503)) return `${a.status}: ${a.text.slice(0, 500)}`;
  if (a.status >= 400) {
    const custom = documented && documented.$ref !== '#/components/schemas/ErrorBodyDto' ? documented : undefined;
    const p = custom && doc ? (a.contentType.startsWith('application/json') ? schemaProblem(doc, custom, a.body) : `content-type ${a.contentType}`) : errorBodyProblem(a);
    if (p) return `${a.status} body: ${p}: ${a.text.slice(0, 300)}`;
  }
  return undefined;
}

/** What names a stored resource. */
export interface ResourceRef {
  kind: string;
  name: string;
  service?: string;
  namespace?: string;
  group?: string;
}

const COLLECTION: Record<string, string> = { Service: 'services', Route: 'routes', Listener: 'listeners', Policy: 'policies', Rollout: 'rollouts' };

/** The resource's REST path. */
export function resourcePath(r: ResourceRef): string {
  const e = encodeURIComponent;
  if (r.kind === 'Endpoint') return `/api/v1/services/${e(r.service!)}/endpoints/${e(r.name)}`;
  if (r.kind === 'Config') return `/api/v1/configs/${e(r.namespace!)}/${e(r.group!)}/${e(r.name)}`;
  return `/api/v1/${COLLECTION[r.kind]}/${e(r.name)}`;
}

/** The resources a successful write answer says it wrote (one resource, or /apply's results). */
export function writtenBy(r: FuzzRequest, a: Answer): { ref: ResourceRef; written?: Record<string, unknown> }[] {
  if (a.status < 200 || a.status >= 300 || !['POST', 'PUT', 'PATCH'].includes(r.method) || !isObject(a.body)) return [];
  const b = a.body;
  if (r.op === 'POST /api/v1/apply' && Array.isArray(b.results) && b.dryRun === false) {
    return (b.results as ResourceRef[]).map((ref) => ({ ref }));
  }
  if (typeof b.kind === 'string' && typeof b.name === 'string' && isObject(b.spec) && (b.kind in COLLECTION || b.kind === 'Endpoint' || b.kind === 'Config')) {
    return [{ ref: b as unknown as ResourceRef, written: b }];
  }
  return [];
}

/** The body that re-applies a resource as it was read: its identity, labels and spec, nothing server-owned. */
export function reapplyBody(r: Record<string, unknown>): Record<string, unknown> {
  const { kind, name, service, namespace, group, labels, spec } = r;
  return Object.fromEntries(Object.entries({ kind, name, service, namespace, group, labels, spec }).filter(([, v]) => v !== undefined));
}

/** The fields the round trip compares: what the client wrote, not status or version metadata. */
export const written = (r: Record<string, unknown>) => ({ labels: r.labels ?? {}, spec: r.spec });

type Http = (method: string, path: string, body?: string, headers?: Record<string, string>) => Promise<Answer>;

/** Outcome of one round trip. */
export type RoundTrip = { ok: true; skipped?: string } | { ok: false; problem: string };

/**
 * Reads a written resource back and re-applies it unchanged (by PUT in JSON,
 * or through /apply in YAML): spec and labels must read back as written, and
 * re-applying must change nothing (same spec, labels and version).
 */
export async function roundTrip(http: Http, ref: ResourceRef, writtenBody: Record<string, unknown> | undefined, viaYaml: boolean): Promise<RoundTrip> {
  const path = resourcePath(ref);
  const got = await http('GET', path);
  if (got.status !== 200 || !isObject(got.body)) return { ok: false, problem: `GET ${path} after the write: ${got.status} ${got.text.slice(0, 300)}` };
  const stored = got.body;
  // Heartbeat endpoints live in coordination, are changed only by registering again.
  if (isObject(stored.status) && 'ephemeral' in stored.status) return { ok: true, skipped: 'heartbeat endpoint' };
  if (writtenBody && !isDeepStrictEqual(written(stored), written(writtenBody))) return { ok: false, problem: `GET ${path} differs from the write's answer: ${JSON.stringify(written(stored)).slice(0, 400)} vs ${JSON.stringify(written(writtenBody)).slice(0, 400)}` };
  const body = reapplyBody(stored);
  const again = viaYaml
    ? await http('POST', '/api/v1/apply', toYaml(body, { aliasDuplicateObjects: false, lineWidth: 0 }), { 'content-type': 'application/yaml' })
    : await http('PUT', path, JSON.stringify(body), { 'content-type': 'application/json' });
  if (again.status === 409 && isObject(again.body) && typeof again.body.rollout === 'string') return { ok: true, skipped: 'owned by a rollout' };
  if (again.status !== 200) return { ok: false, problem: `re-applying ${path} unchanged (${viaYaml ? 'YAML /apply' : 'PUT'}): ${again.status} ${again.text.slice(0, 400)}` };
  if (viaYaml) {
    const result = isObject(again.body) && Array.isArray(again.body.results) ? (again.body.results[0] as { result?: string }) : undefined;
    if (result?.result !== 'unchanged') return { ok: false, problem: `re-applying ${path} unchanged through /apply answered ${JSON.stringify(again.body).slice(0, 300)}` };
  }
  const after = await http('GET', path);
  if (after.status !== 200 || !isObject(after.body)) return { ok: false, problem: `GET ${path} after re-applying: ${after.status}` };
  if (!isDeepStrictEqual(written(after.body), written(stored))) return { ok: false, problem: `re-applying ${path} changed it: ${JSON.stringify(written(after.body)).slice(0, 400)} vs ${JSON.stringify(written(stored)).slice(0, 400)}` };
  if (after.body.version !== stored.version) return { ok: false, problem: `re-applying ${path} unchanged bumped its version ${stored.version} → ${after.body.version}` };
  return { ok: true };
}
