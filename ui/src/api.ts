import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

const TOKEN_KEY = 'switchyard.token';

/** The API token the dashboard sends (kept in this browser only); none is needed on loopback with AUTH_MODE=none. */
export const token = {
  get: () => localStorage.getItem(TOKEN_KEY) ?? '',
  set: (t: string) => (t ? localStorage.setItem(TOKEN_KEY, t) : localStorage.removeItem(TOKEN_KEY)),
};

/** An API error with the server's message (its body is the documented error shape). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Calls the REST API; the dashboard has no API of its own. */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const t = token.get();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  // no-store: a resource's status changes without a new version (its ETag), so a cached copy would be stale.
  const res = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const m = json?.message;
    throw new ApiError(res.status, `${res.status} ${Array.isArray(m) ? m.join('; ') : (m ?? res.statusText)}`);
  }
  return json as T;
}

/** Every item of a list route (list routes are paged by `pageToken`). */
export async function listAll<T = any>(path: string): Promise<T[]> {
  const out: T[] = [];
  let next: string | undefined;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api<{ items: T[]; nextPageToken?: string }>('GET', next ? `${path}${sep}pageToken=${encodeURIComponent(next)}` : path);
    out.push(...page.items);
    next = page.nextPageToken;
  } while (next);
  return out;
}

/** Polled data: what the page shows, when it was last fetched, and the last error (the old data stays on screen). */
export interface Polled<T> {
  data?: T;
  error?: string;
  updatedAt?: Date;
  reload(): void;
}

/** Fetches now and every `ms` while the page is shown; a change of `key` refetches at once. */
export function usePoll<T>(load: () => Promise<T>, key: string, ms = 2000): Polled<T> {
  const [state, setState] = useState<{ data?: T; error?: string; updatedAt?: Date }>({});
  const loadRef = useRef(load);
  loadRef.current = load;
  const seq = useRef(0);
  const run = useCallback(() => {
    const mine = ++seq.current;
    loadRef.current().then(
      (data) => mine === seq.current && setState({ data, updatedAt: new Date() }),
      (e: Error) => mine === seq.current && setState((s) => ({ ...s, error: e.message })),
    );
  }, []);
  useEffect(() => {
    setState({});
    run();
    const t = setInterval(() => {
      if (!document.hidden) run();
    }, ms);
    return () => {
      clearInterval(t);
      seq.current++;
    };
  }, [key, ms, run]);
  return { ...state, reload: run };
}
