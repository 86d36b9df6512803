import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createLogger, httpLogging, NestPinoLogger } from './observability/logger.js';
import { AppModule } from './app.module.js';
import { answerParserErrors, createValidationPipe, EtagInterceptor, HttpErrorFilter, RequestContextInterceptor } from './common/http.js';
import { completeOpenApiDocument } from './common/openapi.js';
import { EphemeralEndpoints } from './registry/ephemeral-endpoints.js';
import { EndpointsService } from './registry/endpoints.service.js';
import { installFastPaths } from './registry/rest/fast-paths.js';
import { type AppConfig, drainBudgetMs } from './config/config.js';
import { Database } from './database/database.js';
import { ENTITIES } from './registry/store/entities.js';
import { AUTH_ENTITIES } from './auth/token.entity.js';
import { AuthService } from './auth/auth.service.js';
import { documentAuth } from './auth/openapi.js';
import { MetricsService } from './observability/metrics.service.js';
import { activeTracing, httpTracing, initTracing, type Tracing, tracingOptions } from './observability/tracing.js';
import { RegistryGrpcServer } from './registry/grpc/registry.grpc-server.js';
import { XdsServer } from './xds/server/xds.server.js';
import { httpsOptions, TlsMaterial } from './security/tls.js';
import { serveDashboard } from './ui/dashboard.js';

const JSON_TYPES = ['application/json', 'application/merge-patch+json', 'application/*+json'];
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** A running control plane and where it listens. */
export interface RunningApp {
  app: NestExpressApplication;
  httpPort: number;
  grpcPort: number;
  xdsPort: number;
  /** The TLS files every listener uses, when TLS is on. */
  tls?: TlsMaterial;
  close(): Promise<void>;
}

/**
 * Opens the database, builds the Nest app, and starts REST and gRPC listeners.
 * Installs tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set and nobody
 * installed it already (a test may, with its own exporter); what it installs,
 * it shuts down on close, after the app, so the last spans are exported.
 */
export async function startApp(config: AppConfig): Promise<RunningApp> {
  // TLS files first: a missing file or a key that does not fit fails the boot before anything opens.
  const logger = createLogger(config.LOG_LEVEL);
  const tls = TlsMaterial.fromConfig(config, (m) => logger.warn(m));
  const ownTracing = activeTracing() ? undefined : initTracing(tracingOptions(config));
  try {
    return await startWith(config, logger, tls, ownTracing);
  } catch (e) {
    await ownTracing?.shutdown();
    throw e;
  }
}

async function startWith(config: AppConfig, logger: ReturnType<typeof createLogger>, tls: TlsMaterial | undefined, ownTracing: Tracing | undefined): Promise<RunningApp> {
  let db: Database;
  try {
    db = await Database.open({
      url: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      poolSize: config.DATABASE_POOL_SIZE,
      readTimeoutMs: config.DATABASE_READ_TIMEOUT_MS,
      runMigrations: config.MIGRATIONS_RUN,
      entities: [...ENTITIES, ...AUTH_ENTITIES],
    });
  } catch (e) {
    tls?.close();
    throw e;
  }
  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, db, tls ?? null), {
      bodyParser: false,
      bufferLogs: true,
      abortOnError: false,
      ...(tls ? { httpsOptions: httpsOptions(tls.current) } : {}),
    });
  } catch (e) {
    tls?.close();
    await db.close();
    throw e;
  }
  let drain: ((budgetMs: number) => () => void) | undefined;
  if (tls) {
    // New HTTPS connections get the new certificate; open keep-alive connections keep theirs.
    const server = app.getHttpServer() as unknown as import('node:tls').Server;
    tls.onChange((c) => server.setSecureContext(httpsOptions(c)));
  }
  try {
    app.useLogger(new NestPinoLogger(logger));
    app.use(httpLogging(logger));
    app.disable('x-powered-by');
    app.set('etag', false); // ETag carries resource versions only (set by EtagInterceptor)
    configureHttp(app, config);
    await app.listen(config.PORT, config.HOST);
    installFastPaths(app.getHttpServer(), {
      endpoints: app.get(EndpointsService),
      ephemeral: app.get(EphemeralEndpoints),
      metrics: app.get(MetricsService),
      auth: app.get(AuthService),
      logger,
      limit: config.BODY_LIMIT_BYTES,
      tracing: () => activeTracing() !== undefined,
    });
    answerParserErrors(app.getHttpServer());
    drain = drainOnClose(app.getHttpServer());
  } catch (e) {
    tls?.close();
    await app.close();
    throw e;
  }
  const address = app.getHttpServer().address();
  return {
    app,
    httpPort: typeof address === 'object' && address ? address.port : config.PORT,
    grpcPort: app.get(RegistryGrpcServer).port,
    xdsPort: app.get(XdsServer).port,
    tls,
    close: async () => {
      tls?.close();
      const started = Date.now();
      const stopDraining = drain?.(drainBudgetMs(config.SHUTDOWN_TIMEOUT_MS));
      try {
        await app.close();
      } finally {
        stopDraining?.();
        // What is left of the budget, less a margin for the exit itself.
        await shutdownTracing(ownTracing, Math.max(0, config.SHUTDOWN_TIMEOUT_MS - (Date.now() - started) - 250), logger);
      }
    },
  };
}

/** Flushes and uninstalls tracing, waiting at most `ms` for an unreachable collector. */
async function shutdownTracing(tracing: Tracing | undefined, ms: number, logger: ReturnType<typeof createLogger>): Promise<void> {
  if (!tracing) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms).unref()));
  try {
    await Promise.race([tracing.shutdown(), late]);
  } catch (e) {
    logger.warn(`tracing shutdown failed: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Graceful HTTP shutdown under load. Node's server.close() closes only the
 * connections idle at that moment: a client that keeps sending on a
 * keep-alive connection keeps it busy, and close() never returns (the process
 * was then killed by the forced exit). So from the start of shutdown every
 * response closes its connection (Connection: close) once it is complete,
 * idle connections close at once, and whatever is still open when the budget
 * is spent is cut. Returns the function that starts draining; it returns one
 * that clears the budget's timer.
 */
function drainOnClose(server: import('node:http').Server): (budgetMs: number) => () => void {
  let draining = false;
  server.prependListener('request', (_req: unknown, res: import('node:http').ServerResponse) => {
    if (draining) res.shouldKeepAlive = false;
  });
  return (budgetMs) => {
    draining = true;
    server.closeIdleConnections();
    const cut = setTimeout(() => server.closeAllConnections(), budgetMs).unref();
    return () => clearTimeout(cut);
  };
}

function configureHttp(app: NestExpressApplication, config: AppConfig): void {
  const metrics = app.get(MetricsService);
  // Only with tracing installed: off, requests do not pay for header parsing and context binding.
  if (activeTracing()) app.use(httpTracing());
  app.use((req: Request, res: Response, next: NextFunction) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl ?? ''}${req.route.path}` : 'unmatched';
      const labels = { route, method: req.method, status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    });
    next();
  });
  // 415 before parsing: only JSON everywhere, plus YAML on /apply.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody || !['POST', 'PUT', 'PATCH'].includes(req.method)) return next();
    const yamlOk = req.path === '/api/v1/apply' || req.path === '/api/v1/preview';
    if (req.is(JSON_TYPES) || (yamlOk && req.is(YAML_TYPES))) return next();
    res.status(415).json({
      statusCode: 415,
      error: 'Unsupported Media Type',
      message: `Content-Type ${req.headers['content-type'] ?? '(none)'} is not supported here; use application/json${yamlOk ? ' or application/yaml' : ''}`,
    });
  });
  serveDashboard(app.getHttpAdapter().getInstance());
  app.use(express.json({ type: JSON_TYPES, limit: config.BODY_LIMIT_BYTES, strict: false }));
  app.use(express.text({ type: YAML_TYPES, limit: config.BODY_LIMIT_BYTES }));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new HttpErrorFilter());
  app.useGlobalInterceptors(new RequestContextInterceptor(), new EtagInterceptor());

  const doc = documentAuth(completeOpenApiDocument(
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Switchyard')
        .setDescription('Registry of services, endpoints, routes, listeners and policies; the xDS config source.')
        .setVersion('v1')
        .addBearerAuth()
        .build(),
    ),
  ));
  SwaggerModule.setup('api/docs', app, doc, { jsonDocumentUrl: 'api/docs-json' });
}
