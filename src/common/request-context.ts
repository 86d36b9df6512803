import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What is known about the request being served, wherever its work runs (REST or gRPC). */
export interface RequestContext {
  /** The caller's X-Request-Id (x-request-id metadata over gRPC), or one made up for it. */
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

const REQUEST_ID = /^[A-Za-z0-9._:\/+=-]{1,128}$/;

/** A usable request id: the caller's when it is short and plain (it ends up in logs), else a new one. */
export function requestIdFrom(header: unknown): string {
  const v = Array.isArray(header) ? header[0] : header;
  return typeof v === 'string' && REQUEST_ID.test(v) ? v : randomUUID();
}

/** Runs `fn` (and everything it awaits or schedules) as part of the request `ctx`. */
export function runInRequest<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/**
 * The request whose work is running, if any. The registry's committed event
 * fires in the writer's async context, so a listener (the audit log) learns
 * which request made a write without every caller passing it down.
 */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}
