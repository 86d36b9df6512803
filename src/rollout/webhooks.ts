import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { RolloutWebhook } from '../model/resources.js';
import { refusedTarget } from '../common/ssrf.js';

const DEFAULT_TIMEOUT_MS = 5000;

/**
 * Calls a rollout webhook: an HTTP POST with a JSON body and a timeout. 2xx
 * passes; anything else, a timeout or a refused target halts. The health-check
 * SSRF rules apply: link-local and cloud-metadata addresses are refused, after
 * DNS resolution, unless HEALTH_ALLOW_LINK_LOCAL.
 */
export async function callWebhook(hook: RolloutWebhook, body: unknown, allowLinkLocal: boolean): Promise<{ ok: boolean; message: string }> {
  let url: URL;
  try {
    url = new URL(hook.url);
  } catch {
    return { ok: false, message: `not a URL: ${hook.url}` };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  try {
    const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
    for (const a of addresses) {
      const refused = refusedTarget(a, allowLinkLocal);
      if (refused) return { ok: false, message: `refused: ${refused}` };
    }
  } catch (e) {
    return { ok: false, message: `cannot resolve ${host}: ${(e as Error).message}` };
  }
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'switchyard-rollout/1' },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(hook.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    const text = (await res.text()).slice(0, 200);
    return { ok: res.status >= 200 && res.status < 300, message: `HTTP ${res.status}${text ? `: ${text}` : ''}` };
  } catch (e) {
    const err = e as Error;
    return { ok: false, message: err.name === 'TimeoutError' ? `no answer within ${hook.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms` : err.message };
  }
}
