import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AuthService, Caller } from '../../auth/auth.service.js';
import { errorHeaders, toErrorBody, writeContextOf } from '../../common/http.js';
import { requestIdFrom, runInRequest } from '../../common/request-context.js';
import { ValidationFailed } from '../../common/errors.js';
import { validatePlain } from '../../common/validate.js';
import type { MetricsService } from '../../observability/metrics.service.js';
import { EndpointDto } from '../dto/index.js';
import type { EndpointsService } from '../endpoints.service.js';
import type { EphemeralEndpoints } from '../ephemeral-endpoints.js';

/** What the fast paths call; each is the service its Nest route calls. */
export interface FastPathDeps {
  endpoints: EndpointsService;
  ephemeral: EphemeralEndpoints;
  metrics: MetricsService;
  auth: AuthService;
  logger: Logger;
  /** BODY_LIMIT_BYTES: a larger body goes the normal way (and gets its 413 there). */
  limit: number;
  /** True while tracing is on: registrations then go the normal way, which makes their spans. */
  tracing: () => boolean;
}

type Send = (status: number, body: unknown, headers?: Record<string, string>) => void;
/** Answers an error as the global exception filter does, with `headers` besides its own. */
type Fail = (err: unknown, headers?: Record<string, string>) => void;

interface FastRoute {
  method: string;
  pattern: RegExp;
  /** The Express path: the metrics label and the access policy's key. */
  route: string;
  /** Written to the access log (heartbeats are not: a fleet sends thousands per second). */
  logged: boolean;
  /** Whether this request is one the fast path answers exactly as the Nest route would. */
  takes(req: IncomingMessage): boolean;
  handle(m: RegExpExecArray, req: IncomingMessage, body: Buffer, send: Send, fail: Fail): Promise<unknown>;
}

const NAME = '([a-z0-9-]{1,63})';
const HEARTBEAT_ROUTE = '/api/v1/services/:service/endpoints/:name/heartbeat';
const REGISTER_ROUTE = '/api/v1/services/:service/endpoints';
// Plain JSON in UTF-8 only: other types, charsets and encodings get their 415 or decoding from body-parser.
const PLAIN_JSON = /^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i;

/**
 * The hot paths, answered at the HTTP server ahead of Express and Nest: a
 * fleet sends thousands of heartbeats per second, and registers thousands of
 * instances at once when it starts. Express, Nest and pino-http were most of
 * a registration's CPU (BENCHMARKS.md, "Registrations"). Each fast path calls
 * the same service as its Nest route, runs the same access check, validation
 * and error mapping, answers with the same status, body and headers, and is
 * counted in the same metrics. What it does not answer exactly alike (another
 * content type or encoding, a chunked or large body, a query string, tracing
 * on) goes the normal way; the Nest routes also keep them in the OpenAPI
 * document. test/integration/fast-paths.test.ts sends the same requests both
 * ways and compares the answers.
 */
export function installFastPaths(server: Server, deps: FastPathDeps): void {
  const routes = [heartbeatRoute(deps), registerRoute(deps)];
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    let m: RegExpExecArray | null = null;
    const route = routes.find((r) => r.method === req.method && (m = r.pattern.exec(url)) !== null && r.takes(req));
    if (!route || !m) {
      for (const h of handlers) h.call(server, req, res);
      return;
    }
    const match: RegExpExecArray = m;
    const start = process.hrtime.bigint();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send: Send = (status, body, headers = {}) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
        res.end(text);
        const labels = { route: route.route, method: route.method, status: String(status) };
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        deps.metrics.httpRequests.inc(labels);
        deps.metrics.httpDuration.observe(labels, seconds);
        deps.metrics.httpFastPath.inc({ route: route.route });
        if (route.logged) deps.logger.info({ req: { method: req.method, url, remoteAddress: req.socket.remoteAddress }, res: { statusCode: status }, responseTime: Math.round(seconds * 1000), fastPath: true }, 'request completed');
      };
      const fail: Fail = (err, headers = {}) => {
        const b = toErrorBody(err);
        if (b.statusCode >= 500 && b.statusCode !== 503) deps.logger.error({ err }, 'request failed');
        send(b.statusCode, b, { ...headers, ...errorHeaders(err, b) });
      };
      route.handle(match, req, Buffer.concat(chunks), send, fail).catch((err: unknown) => fail(err));
    });
  });
}

const parse = (body: Buffer): { ok: true; value: unknown } | { ok: false; message: string } => {
  try {
    return { ok: true, value: body.length ? JSON.parse(body.toString('utf8')) : undefined };
  } catch (e) {
    return { ok: false, message: `body is not valid JSON: ${(e as Error).message}` };
  }
};

const badJson = (send: Send, message: string) => send(400, { statusCode: 400, error: 'Bad Request', message });
const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
// A body whose size is known up front, within the limit: a chunked or compressed one goes the normal way.
const boundedBody = (req: IncomingMessage, limit: number) =>
  req.headers['transfer-encoding'] === undefined && req.headers['content-encoding'] === undefined && Number(req.headers['content-length'] ?? 0) <= limit;

/**
 * PUT …/heartbeat: credentials first (who may not heartbeat learns nothing
 * about the body), then the optional body; the answer carries X-Request-Id
 * and Cache-Control as the Nest route's does.
 */
function heartbeatRoute(deps: FastPathDeps): FastRoute {
  return {
    method: 'PUT',
    pattern: new RegExp(`^/api/v1/services/${NAME}/endpoints/${NAME}/heartbeat/?$`),
    route: HEARTBEAT_ROUTE,
    logged: false,
    takes: (req) => {
      const type = req.headers['content-type'];
      return (!type || /^application\/json\b/i.test(type)) && boundedBody(req, deps.limit);
    },
    async handle(m, req, body, send, fail) {
      const [, service, name] = m;
      await deps.auth.checkRest(header(req.headers.authorization), undefined, 'PUT', HEARTBEAT_ROUTE, { params: { service, name }, query: {}, body: undefined });
      const parsed = parse(body);
      if (!parsed.ok) return badJson(send, parsed.message);
      const requestId = requestIdFrom(req.headers['x-request-id']);
      try {
        const out = await runInRequest({ requestId }, () => deps.ephemeral.heartbeat(service, name, parsed.value));
        send(200, out, { 'X-Request-Id': requestId, 'Cache-Control': 'no-store' });
      } catch (err) {
        fail(err, { 'X-Request-Id': requestId });
      }
    },
  };
}

/**
 * POST …/endpoints (a registration), in the order Nest runs it: the body is
 * parsed (400, before anything else, as body-parser does), then the access
 * check (401/403, before the request has an id), then in the request's
 * context the validation (the global pipe) and the create; a success carries
 * ETag and Cache-Control as EtagInterceptor sets them.
 */
function registerRoute(deps: FastPathDeps): FastRoute {
  return {
    method: 'POST',
    pattern: new RegExp(`^/api/v1/services/${NAME}/endpoints/?$`),
    route: REGISTER_ROUTE,
    logged: true,
    takes: (req) => !deps.tracing() && PLAIN_JSON.test(req.headers['content-type'] ?? '') && Number(req.headers['content-length'] ?? 0) > 0 && boundedBody(req, deps.limit),
    async handle(m, req, body, send, fail) {
      const [, service] = m;
      const parsed = parse(body);
      if (!parsed.ok) return badJson(send, parsed.message);
      const declared = req.headers['x-switchyard-actor'];
      const caller: Caller = await deps.auth.checkRest(header(req.headers.authorization), declared, 'POST', REGISTER_ROUTE, { params: { service }, query: {}, body: parsed.value }, req.socket.remoteAddress);
      const requestId = requestIdFrom(req.headers['x-request-id']);
      const idHeader = { 'X-Request-Id': requestId };
      try {
        const value = parsed.value;
        if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ValidationFailed([{ field: '(body)', message: 'must be a JSON object' }]);
        const dto = validatePlain(EndpointDto, value);
        const created = await runInRequest({ requestId }, () => deps.endpoints.create(service, dto, writeContextOf(caller.principal ? caller.actor : undefined, declared, req.headers['if-match'])));
        send(201, created, { ...idHeader, 'Cache-Control': 'no-store', ETag: `"${created.version}"` });
      } catch (err) {
        fail(err, idHeader);
      }
    },
  };
}
