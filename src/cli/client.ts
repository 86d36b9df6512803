/** Talking to a Switchyard server over its REST API: the only thing the CLI does. */

/** A failed call, with what to print: the server's message and field violations, or why it could not be reached. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly lines: string[] = [],
    readonly exitCode = 1,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  server: string;
  token?: string;
  actor?: string;
}

/** A small REST client: JSON in and out, errors turned into CliError. */
export class Client {
  constructor(private readonly opts: ClientOptions) {}

  get server(): string {
    return this.opts.server.replace(/\/+$/, '');
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (this.opts.token) h.authorization = `Bearer ${this.opts.token}`;
    if (this.opts.actor) h['x-switchyard-actor'] = this.opts.actor;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= typeof body === 'string' ? 'application/yaml' : 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(this.server + path, { method, headers: h, body: payload });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach Switchyard at ${this.server}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, [], 1);
    }
    const text = await res.text();
    let data: any = text;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    if (!res.ok) throw fromErrorBody(res.status, data, `${method} ${path}`);
    return data as T;
  }

  get<T = any>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** Every item of a paginated list. */
  async list<T = any>(path: string): Promise<T[]> {
    const out: T[] = [];
    let token: string | undefined;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const page = await this.get<{ items: T[]; nextPageToken?: string }>(`${path}${sep}limit=1000${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
      out.push(...page.items);
      token = page.nextPageToken;
    } while (token);
    return out;
  }
}

/** The server's error shape ({statusCode, message, violations, referrers, ...}) as lines a person reads. */
function fromErrorBody(status: number, body: any, what: string): CliError {
  if (!body || typeof body !== 'object') return new CliError(`${what}: HTTP ${status}${body ? `: ${String(body).slice(0, 200)}` : ''}`, [], 1, status);
  const lines: string[] = [];
  for (const v of body.violations ?? []) lines.push(`  ${v.field}: ${v.message}`);
  for (const r of body.referrers ?? []) lines.push(`  referenced by ${r.kind} ${r.service ? `${r.service}/` : ''}${r.name}`);
  if (body.currentVersion !== undefined) lines.push(`  current version: ${body.currentVersion}`);
  const message = body.violations?.length ? `${body.message ?? 'validation failed'} (HTTP ${status}):` : `${body.message ?? body.error ?? 'error'} (HTTP ${status})`;
  return new CliError(message, lines, 1, status);
}
