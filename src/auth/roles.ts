/**
 * Roles, scopes and the one decision every transport shares: may this
 * principal make a request that needs this role and touches this target?
 * Pure: no Nest, no I/O.
 */
import { PermissionDenied } from '../common/errors.js';
import type { Kind } from '../model/resources.js';

/** Each role includes every role before it. */
export const ROLES = ['viewer', 'operator', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const LEVEL: Record<Role, number> = { viewer: 1, operator: 2, editor: 3, admin: 4 };

/** The highest of several roles (0 for none). */
export const levelOf = (roles: readonly Role[]): number => Math.max(0, ...roles.map((r) => LEVEL[r] ?? 0));

/**
 * What a token may touch, on top of its role. Each dimension that is set
 * narrows the token: a request must then name only listed values of it.
 */
export interface Scopes {
  /** Resource kinds. */
  kinds?: Kind[];
  /** Config namespaces: the token may only touch Configs of these. */
  namespaces?: string[];
  /** Services: the token may only touch these Services and their endpoints (registration tokens). */
  services?: string[];
}

/** An authenticated caller. */
export interface Principal {
  /** Stable key for rate limiting (token id, jwt subject). */
  id: string;
  /** What the change log records: `token:<name>` or `jwt:<sub>`. */
  actor: string;
  roles: Role[];
  scopes: Scopes;
  /** When the credential stops being valid (ms since the epoch). */
  expiresAt?: number;
  /** The stored token's id, so a token cannot delete itself. */
  tokenId?: string;
}

/**
 * What a request touches, as far as scopes care. `global` is a request about
 * everything (the change log, proxies, token management), which no scoped
 * token may make; `none` is one about nothing (the server version).
 */
export type Target = 'global' | 'none' | { kinds?: Kind[]; services?: string[]; namespaces?: string[] };

/** What a route or RPC needs. */
export interface Need {
  role: Role;
  target: Target;
}

const isScoped = (s: Scopes) => !!(s.kinds || s.namespaces || s.services);

/** Why `p` may not make a request needing `need`, or undefined when it may. */
export function refusal(p: Principal, need: Need): string | undefined {
  if (levelOf(p.roles) < LEVEL[need.role]) return `needs the ${need.role} role (the caller has ${p.roles.join(', ') || 'no role'})`;
  const s = p.scopes;
  const t = need.target;
  if (!isScoped(s) || t === 'none') return undefined;
  if (t === 'global') return 'a scoped token cannot make a request about every resource';
  const within = (dim: string, allowed: readonly string[] | undefined, asked: readonly string[] | undefined) => {
    if (!allowed) return undefined;
    if (!asked?.length) return `the token is limited to ${dim} ${allowed.join(', ')}, and the request does not name one`;
    const out = asked.find((a) => !allowed.includes(a));
    return out === undefined ? undefined : `the token is limited to ${dim} ${allowed.join(', ')}, not ${out}`;
  };
  // A namespace scope is about Configs and a service scope about Services and their endpoints: other kinds are outside them.
  const onlyKinds = (dim: string, allowed: readonly string[] | undefined, kinds: readonly Kind[]) =>
    allowed && (!t.kinds?.length || t.kinds.some((k) => !kinds.includes(k))) ? `the token is limited to ${dim} ${allowed.join(', ')}, and the request touches ${t.kinds?.join(', ') || 'other kinds'}` : undefined;
  return (
    within('kinds', s.kinds, t.kinds) ??
    onlyKinds('the Configs of namespaces', s.namespaces, ['Config']) ??
    within('namespaces', s.namespaces, t.namespaces) ??
    onlyKinds('services', s.services, ['Service', 'Endpoint']) ??
    within('services', s.services, t.services)
  );
}

/** Throws PermissionDenied (403 / PERMISSION_DENIED) unless `p` may make the request. */
export function authorize(p: Principal, need: Need): void {
  const why = refusal(p, need);
  if (why) throw new PermissionDenied(`${p.actor}: ${why}`);
}

/** Whether scopes `inner` are no wider than `outer` (a token cannot grant more than its creator has). */
export function scopesWithin(inner: Scopes, outer: Scopes): boolean {
  const dim = (i?: readonly string[], o?: readonly string[]) => !o || (!!i && i.every((v) => o.includes(v)));
  return dim(inner.kinds, outer.kinds) && dim(inner.namespaces, outer.namespaces) && dim(inner.services, outer.services);
}
