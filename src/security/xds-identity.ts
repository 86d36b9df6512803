import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import YAML from 'yaml';
import { type FileWatch, watchFiles } from '../common/file-watch.js';
import { ConfigError } from '../config/config.js';

/** The identity id given to callers without credentials (XDS_AUTH=optional), and the entry that binds them. */
export const ANONYMOUS = 'anonymous';
/** In an identity's groups: every node group. */
export const ALL_GROUPS = '*';

/** Who is on the other end of an xDS stream, and which node groups it may join. */
export interface XdsIdentity {
  /** A SPIFFE id or certificate CN, a token entry's id, or `anonymous`. */
  id: string;
  /** Node groups (Envoy node.cluster; `proxyless` for gRPC clients) it may join; `*` = all. */
  groups: readonly string[];
  via: 'certificate' | 'token' | 'anonymous';
}

/** The credentials of one xDS stream, as the transport and the call metadata carry them. */
export interface XdsPeer {
  /** The client certificate, only when TLS verified it against XDS_CLIENT_CA_FILE. */
  certificate?: PeerCertificate;
  /** The token of an `authorization: Bearer <token>` header, when sent. */
  bearerToken?: string;
}

/** What a resolver concluded: an identity, none (anonymous), or a refusal with its metric reason. */
export interface XdsIdentityResult {
  identity?: XdsIdentity;
  /** Set when the credentials are wrong (not merely absent); `message` says why. */
  refused?: 'bad_token';
  message?: string;
}

/**
 * The port through which xDS streams learn who their caller is. The default
 * (FileXdsIdentityResolver) takes certificate identities and sha256-hashed
 * static bearer tokens from XDS_IDENTITIES_FILE; an API-token module can
 * provide its own under XDS_IDENTITY_RESOLVER (and delegate certificates to
 * the default). May be async: the stream waits, and sends nothing meanwhile.
 */
export interface XdsIdentityResolver {
  resolve(peer: XdsPeer): XdsIdentityResult | Promise<XdsIdentityResult>;
  /** The groups an anonymous caller may join (XDS_AUTH=optional). */
  anonymousGroups(): readonly string[];
}

/** Nest injection token of the XdsIdentityResolver in use. */
export const XDS_IDENTITY_RESOLVER = Symbol.for('switchyard.XdsIdentityResolver');

/**
 * The identity a verified client certificate names: its first SPIFFE URI SAN
 * (spiffe://trust-domain/...), else its first URI SAN, else its subject CN.
 */
export function certificateIdentity(cert: PeerCertificate): string | undefined {
  const uris: string[] = [];
  // Node renders SANs as `URI:a, DNS:b`, quoting (JSON) values that contain a comma or quote.
  for (const m of (cert.subjectaltname ?? '').matchAll(/(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    uris.push(m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : m[1]);
  }
  const cn = cert.subject?.CN;
  return uris.find((u) => u.startsWith('spiffe://')) ?? uris[0] ?? (Array.isArray(cn) ? cn[0] : cn) ?? undefined;
}

/** sha256 hex of a bearer token: what XDS_IDENTITIES_FILE stores instead of the token. */
export const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

interface Entry {
  id: string;
  groups: string[];
  token?: string;
}

interface Bindings {
  byId: Map<string, Entry>;
  byToken: Map<string, Entry>;
}

function parseBindings(path: string): Bindings {
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const list = (doc as { identities?: unknown } | null)?.identities ?? [];
  if (!Array.isArray(list)) throw new Error(`${path}: identities must be a list`);
  const out: Bindings = { byId: new Map(), byToken: new Map() };
  list.forEach((raw: unknown, i) => {
    const at = `${path}: identities[${i}]`;
    const e = raw as Record<string, unknown>;
    if (!e || typeof e !== 'object') throw new Error(`${at}: must be an object with id and groups`);
    const unknown = Object.keys(e).filter((k) => !['id', 'groups', 'token'].includes(k));
    if (unknown.length) throw new Error(`${at}: unknown field ${unknown.join(', ')}`);
    if (typeof e.id !== 'string' || !e.id) throw new Error(`${at}.id: must be a non-empty string`);
    if (!Array.isArray(e.groups) || e.groups.some((g) => typeof g !== 'string' || !g)) throw new Error(`${at}.groups: must be a list of node group names`);
    const entry: Entry = { id: e.id, groups: e.groups as string[] };
    if (e.token !== undefined) {
      if (typeof e.token !== 'string' || !/^[0-9a-fA-F]{64}$/.test(e.token)) throw new Error(`${at}.token: must be the sha256 of the token, 64 hex digits (never the token itself)`);
      entry.token = e.token.toLowerCase();
      if (out.byToken.has(entry.token)) throw new Error(`${at}.token: the same token hash appears twice`);
      out.byToken.set(entry.token, entry);
    } else {
      if (out.byId.has(entry.id)) throw new Error(`${at}.id: ${entry.id} appears twice`);
      out.byId.set(entry.id, entry);
    }
  });
  return out;
}

/**
 * XDS_IDENTITIES_FILE, re-read when it changes. A file that stops parsing is
 * reported and the previous bindings stay in force (never "nobody may join",
 * never "everybody may"). Example:
 *
 *     identities:
 *       - {id: 'spiffe://switchyard/group/edge', groups: [edge]}
 *       - {token: <sha256 hex of the token>, id: edge-tokens, groups: [edge]}
 *       - {id: anonymous, groups: [public]}     # XDS_AUTH=optional only
 */
export class IdentitiesFile {
  private bindings: Bindings;
  private watch?: FileWatch;
  generation = 0;

  constructor(
    readonly path: string,
    private readonly onProblem: (message: string) => void = () => undefined,
  ) {
    try {
      this.bindings = parseBindings(path);
    } catch (e) {
      throw new ConfigError(`XDS_IDENTITIES_FILE ${(e as Error).message}`);
    }
  }

  startWatching(intervalMs: number): void {
    this.watch = watchFiles([this.path], intervalMs, () => this.reload());
  }

  checkNow(): void {
    this.watch?.check();
  }

  reload(): boolean {
    try {
      this.bindings = parseBindings(this.path);
      this.generation++;
    } catch (e) {
      this.onProblem(`XDS_IDENTITIES_FILE changed but cannot be used, keeping the previous bindings: ${(e as Error).message}`);
    }
    return true;
  }

  /** The groups bound to a certificate (or other non-token) identity; undefined when it is not listed. */
  groupsOf(id: string): readonly string[] | undefined {
    return this.bindings.byId.get(id)?.groups;
  }

  /** The entry of a bearer token, by its hash. */
  token(token: string): { id: string; groups: readonly string[] } | undefined {
    return this.bindings.byToken.get(tokenHash(token));
  }

  close(): void {
    this.watch?.stop();
  }

  /** Nest calls this when the app closes. */
  onApplicationShutdown(): void {
    this.close();
  }
}

/**
 * The default resolver: a bearer token must match a token entry (else
 * bad_token, even if a certificate came too: a wrong token is never ignored);
 * otherwise a verified certificate names the identity, bound to the groups of
 * its entry (none when unlisted); otherwise the caller is anonymous.
 */
export class FileXdsIdentityResolver implements XdsIdentityResolver {
  constructor(private readonly file: IdentitiesFile) {}

  resolve(peer: XdsPeer): XdsIdentityResult {
    if (peer.bearerToken !== undefined) {
      const t = this.file.token(peer.bearerToken);
      if (!t) return { refused: 'bad_token', message: 'the bearer token matches no token in XDS_IDENTITIES_FILE' };
      return { identity: { id: t.id, groups: t.groups, via: 'token' } };
    }
    if (peer.certificate) {
      const id = certificateIdentity(peer.certificate);
      if (id) return { identity: { id, groups: this.file.groupsOf(id) ?? [], via: 'certificate' } };
    }
    return {};
  }

  /** The `anonymous` entry's groups; every group when the file declares no such entry (see README). */
  anonymousGroups(): readonly string[] {
    return this.file.groupsOf(ANONYMOUS) ?? [ALL_GROUPS];
  }
}
