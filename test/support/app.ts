import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export type Backend = 'postgres' | 'pglite';

/** A control plane started for a test, with a tiny HTTP client bound to it. */
export interface TestApp extends RunningApp {
  backend: Backend;
  db?: TestDatabase;
  base: string;
  http: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<HttpResult>;
  stop(): Promise<void>;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** Starts the app on free ports against a throwaway PostgreSQL database or an in-memory PGlite. */
export async function startTestApp(backend: Backend, env: Record<string, string> = {}): Promise<TestApp> {
  // A given DATABASE_URL is shared (several replicas on one database); otherwise each app gets its own.
  const db = backend === 'postgres' && !env.DATABASE_URL ? await createTestDatabase() : undefined;
  const config = loadConfig({
    PORT: '0',
    GRPC_PORT: '0',
    XDS_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    DATA_DIR: 'memory://',
    SHUTDOWN_TIMEOUT_MS: '2000',
    ...(db ? { DATABASE_URL: db.url, DATABASE_POOL_SIZE: '25' } : {}),
    ...env,
  });
  let running: RunningApp;
  try {
    running = await startApp(config);
  } catch (e) {
    await db?.drop();
    throw e;
  }
  const base = `http://127.0.0.1:${running.httpPort}`;
  return {
    ...running,
    backend,
    db,
    base,
    http: (method, path, body, headers) => request(base, method, path, body, headers),
    async stop() {
      await running.close();
      await db?.drop();
    },
  };
}

export async function request(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}
