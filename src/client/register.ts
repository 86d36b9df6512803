/** What to register: one instance of a service, as a heartbeat (TTL) endpoint. */
export interface RegisterOptions {
  /** Base URL of the control plane's REST API (any replica), e.g. http://127.0.0.1:8080. */
  server: string;
  service: string;
  /** Endpoint name; default: the host name and pid. */
  name?: string;
  address: string;
  port: number;
  labels?: Record<string, string>;
  /** The registration expires this long after the last heartbeat (default 10 s). */
  ttlSeconds?: number;
  /** Deregister on SIGTERM and SIGINT, then let the signal do what it would have done (default true). */
  handleSignals?: boolean;
  onError?: (e: Error) => void;
  /** A registration token (operator, scoped to the service) when the server runs AUTH_MODE=token. */
  token?: string;
}

/** A running registration. */
export interface Registration {
  service: string;
  name: string;
  /** Stops heartbeats and removes the endpoint now (it would expire on its own after ttlSeconds). */
  deregister(): Promise<void>;
}

/**
 * Registers this instance and keeps it registered: heartbeats every third of
 * the TTL (each heartbeat carries the endpoint, so it registers again after
 * an expiry or a control plane restart), and deregisters on SIGTERM so the
 * instance leaves the pool before it stops rather than a TTL later.
 */
export async function registerInstance(o: RegisterOptions): Promise<Registration> {
  const ttl = o.ttlSeconds ?? 10;
  const name = o.name ?? `${o.service}-${process.pid}`.slice(0, 63);
  const base = o.server.replace(/\/$/, '');
  const url = `${base}/api/v1/services/${o.service}/endpoints/${name}`;
  const body = JSON.stringify({ name, spec: { address: o.address, port: o.port, labels: o.labels ?? {}, ttlSeconds: ttl } });
  const auth: Record<string, string> = o.token ? { authorization: `Bearer ${o.token}` } : {};
  const beat = async () => {
    const res = await fetch(`${url}/heartbeat`, { method: 'PUT', headers: { 'content-type': 'application/json', ...auth }, body });
    if (!res.ok) throw new Error(`heartbeat for ${o.service}/${name}: HTTP ${res.status} ${await res.text()}`);
  };
  await beat();
  const timer = setInterval(() => void beat().catch((e) => o.onError?.(e)), Math.max(200, (ttl * 1000) / 3));
  timer.unref();
  let gone = false;
  const deregister = async () => {
    if (gone) return;
    gone = true;
    clearInterval(timer);
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.off(s, onSignal);
    const res = await fetch(url, { method: 'DELETE', headers: auth });
    if (!res.ok && res.status !== 404) throw new Error(`deregister ${o.service}/${name}: HTTP ${res.status}`);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    void deregister()
      .catch((e) => o.onError?.(e))
      .finally(() => process.kill(process.pid, signal));
  };
  if (o.handleSignals ?? true) for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, onSignal);
  return { service: o.service, name, deregister };
}
