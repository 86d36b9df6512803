import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Attributes,
  context,
  type Context,
  defaultTextMapGetter,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { AppConfig, TRACE_SAMPLERS } from '../config/config.js';

const TRACER_NAME = 'switchyard';

/** How to set tracing up; build it from the configuration with tracingOptions(). */
export interface TracingOptions {
  /** OTLP/HTTP collector base URL; spans go to `<endpoint>/v1/traces`. */
  endpoint?: string;
  /** Export here instead of OTLP (tests pass an InMemorySpanExporter). Turns tracing on by itself. */
  exporter?: SpanExporter;
  /** Export every span as it ends (SimpleSpanProcessor) rather than in batches: for tests, not production. */
  simple?: boolean;
  serviceName?: string;
  /** service.instance.id: the replica's name. */
  instanceId?: string;
  sampler?: (typeof TRACE_SAMPLERS)[number];
  samplerArg?: number;
}

/** Installed tracing: the SDK provider, registered as the global one until shutdown. */
export interface Tracing {
  readonly provider: NodeTracerProvider;
  /** Exports what is buffered, then unregisters the provider (the API is back to no-ops). */
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;
// Re-read after install and shutdown: a tracer taken from the no-op API keeps pointing at whatever provider it first found.
let current: Tracer = trace.getTracer(TRACER_NAME);

/** Switchyard's tracer: the SDK's when tracing is installed, otherwise the API's no-op one (spans cost an object, nothing is recorded). */
export function tracer(): Tracer {
  return current;
}

/** The installed tracing, if any. */
export function activeTracing(): Tracing | undefined {
  return active;
}

/** The tracing options the configuration asks for (no endpoint: tracing stays off). */
export function tracingOptions(config: AppConfig): TracingOptions {
  return {
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: config.OTEL_SERVICE_NAME,
    instanceId: config.REPLICA_ID,
    sampler: config.OTEL_TRACES_SAMPLER,
    samplerArg: config.OTEL_TRACES_SAMPLER_ARG,
  };
}

/**
 * Installs an SDK tracer provider (AsyncLocalStorage context, W3C trace
 * context) when `opts` name an endpoint or an exporter; otherwise installs
 * nothing and returns undefined, so every span is a non-recording no-op.
 * Spans go through a BatchSpanProcessor to an OTLP/HTTP exporter (which also
 * reads OTEL_EXPORTER_OTLP_HEADERS and the other standard variables itself).
 */
export function initTracing(opts: TracingOptions): Tracing | undefined {
  if (active) throw new Error('tracing is already installed');
  if (!opts.exporter && !opts.endpoint) return undefined;
  const exporter = opts.exporter ?? new OTLPTraceExporter({ url: `${opts.endpoint!.replace(/\/+$/, '')}/v1/traces` });
  // OTEL_RESOURCE_ATTRIBUTES first; the configured name wins over it (it was validated, and may come from CONFIG_FILE).
  const resource = detectResources({ detectors: [envDetector] }).merge(
    resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName ?? TRACER_NAME, ...(opts.instanceId ? { [ATTR_SERVICE_INSTANCE_ID]: opts.instanceId } : {}) }),
  );
  const sampler = samplerOf(opts.sampler, opts.samplerArg);
  const provider = new NodeTracerProvider({
    resource,
    ...(sampler ? { sampler } : {}),
    spanProcessors: [opts.simple ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  current = trace.getTracer(TRACER_NAME);
  const installed: Tracing = {
    provider,
    async shutdown() {
      if (active !== installed) return;
      try {
        await provider.shutdown();
      } finally {
        active = undefined;
        trace.disable();
        context.disable();
        propagation.disable();
        current = trace.getTracer(TRACER_NAME);
      }
    },
  };
  return (active = installed);
}

/** The SDK sampler OTEL_TRACES_SAMPLER names (undefined: the SDK's own default, parentbased_always_on). */
function samplerOf(name: TracingOptions['sampler'], arg = 1): Sampler | undefined {
  switch (name) {
    case undefined:
      return undefined;
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(arg);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(arg) });
  }
}

/**
 * Runs `fn` in a new active span and ends it when `fn` returns or its promise
 * settles; a throw or rejection marks the span as an error. With tracing off
 * the span is the API's no-op.
 */
export function withSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => T, parent: Context = context.active()): T {
  return tracer().startActiveSpan(name, { startTime: monotonicNow(), ...options }, parent, (span) => {
    let out: T;
    try {
      out = fn(span);
    } catch (e) {
      failed(span, e);
      span.end(monotonicNow());
      throw e;
    }
    if (out instanceof Promise)
      return out.then(
        (v) => (span.end(monotonicNow()), v),
        (e) => {
          failed(span, e);
          span.end(monotonicNow());
          throw e;
        },
      ) as T;
    span.end(monotonicNow());
    return out;
  });
}

/**
 * The wall-clock time in milliseconds read from the monotonic clock. The SDK
 * stamps a span's start with Date.now(), truncated to the millisecond, and its
 * end as start + a monotonic duration; so a span that starts in the same
 * millisecond its sibling ended could appear to start before that end. Stamping
 * the start from the same monotonic clock keeps sequential spans in order. A
 * span given its start must be given its end too: the SDK would otherwise end
 * it at Date.now(), possibly before that start.
 */
function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}

function failed(span: Span, e: unknown): void {
  if (!span.isRecording()) return;
  span.recordException(e instanceof Error ? e : String(e));
  span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
}

/** Span contexts of recording spans only: a no-op span's context links nothing. */
export function recordedContext(span: Span): SpanContext | undefined {
  return span.isRecording() ? span.spanContext() : undefined;
}

type TracedRequest = IncomingMessage & { method: string; path?: string; protocol?: string; baseUrl?: string; route?: { path?: unknown } };

/**
 * Express middleware: one SERVER span per request, named by method and route
 * template (`POST /api/v1/services`, not the URL), a child of the caller's
 * span when it sent a W3C `traceparent`. Install only when tracing is on.
 */
export function httpTracing(): (req: TracedRequest, res: ServerResponse, next: () => void) => void {
  const propagator = new W3CTraceContextPropagator();
  return (req, res, next) => {
    const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    const span = tracer().startSpan(
      req.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: req.method,
          [ATTR_URL_PATH]: req.path ?? req.url?.split('?')[0],
          [ATTR_URL_SCHEME]: req.protocol ?? 'http',
          ...(req.headers['user-agent'] ? { [ATTR_USER_AGENT_ORIGINAL]: req.headers['user-agent'] } : {}),
        },
      },
      parent,
    );
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      // The route is known only once Express matched it; unmatched requests keep the bare method (as the conventions say).
      const route = typeof req.route?.path === 'string' ? `${req.baseUrl ?? ''}${req.route.path}` : undefined;
      if (route) {
        span.updateName(`${req.method} ${route}`);
        span.setAttribute(ATTR_HTTP_ROUTE, route);
      }
      if (res.headersSent) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
      if (!res.writableFinished) span.setAttribute('switchyard.http.aborted', true);
      // Server spans are errors only for 5xx: a 4xx is the client's mistake, answered correctly.
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    const ctx = trace.setSpan(parent, span);
    // As the official http instrumentation does: listeners added to the request and response later (body
    // parsing, Nest) run in the span's context whatever async context the socket emits their events from.
    context.bind(ctx, req);
    context.bind(ctx, res);
    context.with(ctx, next);
  };
}

/** Where a push went out under a recording span (a publish): what the span of its ACK or NACK needs. */
export interface PushTrace {
  context: SpanContext;
  at: number;
}

/**
 * Notes one xDS response pushed while a recording span is active (the
 * snapshot publish): an event on that span, and what the answer's span will
 * hang from. Outside one, or with tracing off, returns undefined at the cost
 * of one context lookup (the attributes are built only when recorded).
 */
export function tracePush(attributes: () => Attributes): PushTrace | undefined {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return undefined;
  span.addEvent('push', attributes());
  return { context: span.spanContext(), at: Date.now() };
}

/**
 * Records the client's answer to a traced push: a short `xds.push` span, a
 * child of the publish, from the push to the answer, with an `ack` or `nack`
 * event carrying the version; so the proxy's ACK is found in the rebuild's trace.
 */
export function tracePushAnswer(push: PushTrace, outcome: 'ack' | 'nack', attributes: Attributes, message?: string): void {
  const span = tracer().startSpan('xds.push', { startTime: push.at, attributes }, trace.setSpanContext(ROOT_CONTEXT, push.context));
  span.addEvent(outcome, { 'xds.version': attributes['xds.version'] ?? '', ...(message ? { 'xds.error': message } : {}) });
  if (outcome === 'nack') span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}
