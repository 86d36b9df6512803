import {
  type ArgumentMetadata,
  type ArgumentsHost,
  Catch,
  type CallHandler,
  createParamDecorator,
  type ExceptionFilter,
  type ExecutionContext,
  HttpException,
  Injectable,
  Logger,
  type NestInterceptor,
  ValidationPipe,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { map, Observable } from 'rxjs';
import { requestIdFrom, runInRequest } from './request-context.js';
import { DomainError, RateLimited, Unauthenticated, ValidationFailed } from './errors.js';
import { flattenErrors, validatePlain, VALIDATOR_OPTIONS } from './validate.js';

const HTTP_STATUS: Record<DomainError['code'], number> = {
  invalid: 400,
  too_large: 413,
  not_found: 404,
  conflict: 409,
  already_exists: 409,
  precondition: 412,
  unavailable: 503,
  unauthenticated: 401,
  permission_denied: 403,
  rate_limited: 429,
  insufficient_storage: 507,
};

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

/** The JSON error body every failed request gets. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  violations?: { field: string; message: string }[];
  [detail: string]: unknown;
}

/** Maps domain errors, Nest HTTP errors and body-parser errors to one JSON shape. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('HttpErrorFilter');

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const body = toErrorBody(err);
    if (body.statusCode >= 500 && body.statusCode !== 503) this.log.error(err);
    for (const [k, v] of Object.entries(errorHeaders(err, body))) res.setHeader(k, v);
    res.status(body.statusCode).json(body);
  }
}

/**
 * Headers an error answer carries: Retry-After on 503 and 429, and on 401 the
 * WWW-Authenticate challenge (RFC 6750) that tells a client to send a bearer token.
 */
export function errorHeaders(err: unknown, body: ErrorBody = toErrorBody(err)): Record<string, string> {
  if (body.statusCode === 503) return { 'retry-after': '1' };
  if (err instanceof RateLimited) return { 'retry-after': String(err.retryAfterSeconds) };
  if (err instanceof Unauthenticated) return { 'www-authenticate': 'Bearer realm="switchyard"' };
  return {};
}

export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof ValidationFailed) {
    const statusCode = HTTP_STATUS[err.code];
    return { statusCode, error: REASON[statusCode], message: statusCode === 413 ? 'too large' : 'validation failed', violations: err.violations };
  }
  if (err instanceof DomainError) {
    const statusCode = HTTP_STATUS[err.code];
    return { statusCode, error: REASON[statusCode], message: err.message, ...(err.details ?? {}) };
  }
  // Nest wraps body-parser's errors (bad JSON, too large) in an HttpException; answer them as body-parser's own, below.
  if (err instanceof HttpException && isBodyParserError(err.cause)) return toErrorBody(err.cause);
  if (err instanceof HttpException) {
    const statusCode = err.getStatus();
    const r = err.getResponse();
    const message = typeof r === 'string' ? r : ((r as { message?: unknown }).message ?? err.message);
    // Keep structured bodies (e.g. terminus' per-indicator details on 503).
    const extra = typeof r === 'object' && r !== null ? (r as Record<string, unknown>) : {};
    return { error: REASON[statusCode] ?? 'Error', ...extra, statusCode, message: Array.isArray(message) ? message.join('; ') : String(message) };
  }
  // body-parser errors carry an HTTP status (413 too large, 400 bad JSON, 415 charset).
  const e = err as { status?: number; statusCode?: number; type?: string; message?: string };
  const status = e.status ?? e.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = e.type === 'entity.too.large' ? 'request body is larger than the limit' : e.type === 'entity.parse.failed' ? `body is not valid JSON: ${e.message}` : (e.message ?? 'bad request');
    return { statusCode: status, error: REASON[status] ?? 'Error', message };
  }
  return { statusCode: 500, error: REASON[500], message: 'internal error' };
}

/** An error of body-parser (or raw-body): it has a 4xx status and a `type` such as entity.parse.failed. */
function isBodyParserError(e: unknown): e is { status: number; type: string; message: string } {
  const x = e as { status?: unknown; type?: unknown } | null;
  return !!x && typeof x === 'object' && typeof x.type === 'string' && typeof x.status === 'number' && x.status >= 400 && x.status < 500;
}

/**
 * A DTO body must be one JSON object (class-validator would otherwise report
 * an array's indexes as unknown fields), and is validated by validatePlain,
 * the path every other entry point takes: Nest's pipe would delete keys named
 * `constructor`, `prototype` and `__proto__` from the body, labels included,
 * and class-transformer would drop `toString` and the like, so a write
 * answered 201 could store less than it was sent.
 */
class BodyShapeValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype && this.toValidate(metadata)) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ValidationFailed([{ field: '(body)', message: 'must be a JSON object' }]);
      return validatePlain(metadata.metatype as new () => object, value);
    }
    return super.transform(value, metadata);
  }
}

/** The global pipe: unknown fields rejected, errors reported per field path. */
export function createValidationPipe(): ValidationPipe {
  return new BodyShapeValidationPipe({
    ...VALIDATOR_OPTIONS,
    transform: true,
    exceptionFactory: (errors) => new ValidationFailed(flattenErrors(errors)),
  });
}

/**
 * Sets `ETag: "<version>"` on responses that are a single resource, for
 * If-Match. The version counts spec writes only, while the body also carries
 * status (rollout phase, health, translation errors) that changes without a
 * new version. So the ETag must never answer a conditional GET: Express would
 * send 304 for a matching If-None-Match and a browser would show the cached,
 * stale status. Answers are `no-store`, and If-None-Match is ignored.
 */
@Injectable()
export class EtagInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = ctx.switchToHttp();
    const req = http.getRequest<Request>();
    delete req.headers['if-none-match'];
    delete req.headers['if-modified-since'];
    return next.handle().pipe(
      map((body) => {
        const res = http.getResponse<Response>();
        // A stream (SSE, long poll) has written its headers already.
        if (res.headersSent) return body;
        res.setHeader('Cache-Control', 'no-store');
        if (body && typeof body === 'object' && 'kind' in body && typeof (body as { version?: unknown }).version === 'number') {
          res.setHeader('ETag', `"${(body as { version: number }).version}"`);
        }
        return body;
      }),
    );
  }
}

/**
 * Runs each handler in a request context carrying its request id (the
 * caller's X-Request-Id, or a new one, echoed in the answer). A Nest
 * interceptor rather than an Express middleware: body parsing runs in the
 * socket's async context, so a context set before it would be lost.
 */
@Injectable()
export class RequestContextInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = ctx.switchToHttp();
    const requestId = requestIdFrom(http.getRequest<Request>().headers['x-request-id']);
    http.getResponse<Response>().setHeader('X-Request-Id', requestId);
    return new Observable((subscriber) => runInRequest({ requestId }, () => next.handle().subscribe(subscriber)));
  }
}

/**
 * What the auth guard leaves on a request it let through: the authenticated
 * identity (`token:<name>`, `jwt:<sub>`), absent when AUTH_MODE=none.
 */
export interface AuthenticatedRequest {
  authActor?: string;
}

/**
 * Who made the request and its If-Match. The actor is the authenticated
 * identity; X-Switchyard-Actor, which anyone can send, is then only kept as a
 * comment. Without authentication (AUTH_MODE=none) the header is the actor
 * (default "anonymous"), as it always was.
 */
export const WriteCtx = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  const req = ctx.switchToHttp().getRequest<Request & AuthenticatedRequest>();
  return writeContextOf(req.authActor, req.headers['x-switchyard-actor'], req.headers['if-match']);
});

/** WriteCtx's rule, for callers outside Nest (the fast paths): actor, comment and If-Match from the headers and the authenticated identity. */
export function writeContextOf(authActor: string | undefined, declared: string | string[] | undefined, ifMatch: string | string[] | undefined): { actor: string; comment?: string; ifMatch?: string } {
  const who = authActor
    ? { actor: authActor, ...(declared !== undefined ? { comment: String(declared).slice(0, 256) } : {}) }
    : { actor: String(declared ?? 'anonymous').slice(0, 128) };
  return { ...who, ...(ifMatch !== undefined ? { ifMatch: String(ifMatch) } : {}) };
}

/**
 * Answers requests Node's HTTP parser refuses before any handler runs
 * (headers over the limit, a malformed request line) with the same JSON error
 * shape as every other 4xx; Node's own answer is a bare status with an empty,
 * non-JSON body.
 */
export function answerParserErrors(server: import('node:http').Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: import('node:stream').Duplex) => {
    // A response already under way, or a connection that is gone, cannot be answered.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight) return void socket.destroy();
    const [statusCode, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'request headers are larger than the limit']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'the request did not arrive in time']
          : [400, `malformed HTTP request (${err.code ?? 'parse error'})`];
    const body = JSON.stringify({ statusCode, error: REASON[statusCode] ?? 'Error', message });
    socket.end(`HTTP/1.1 ${statusCode} ${REASON[statusCode] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}
