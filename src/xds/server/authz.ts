import * as grpc from '@grpc/grpc-js';
import type { AppConfig } from '../../config/config.js';
import { ALL_GROUPS, ANONYMOUS, type XdsIdentity, type XdsIdentityResolver, type XdsPeer } from '../../security/xds-identity.js';
import { groupOf, type XdsNode } from './node.js';

/** Why a stream was refused: the `reason` label of switchyard_xds_auth_refusals_total. */
export type RefusalReason = 'no_identity' | 'bad_token' | 'wrong_group' | 'node_id_taken';

/** A refused stream: the gRPC status it ends with, and why. */
export interface Refusal {
  code: grpc.status;
  reason: RefusalReason;
  details: string;
}

/** What a stream holds once its caller is known: the check of its first request, and the release of its node id. */
export interface StreamPass {
  identity: XdsIdentity;
  /** Checks the node of the first request; a refusal means nothing may be sent. */
  admit(node: XdsNode): Refusal | undefined;
  /** Gives up the node id claimed by `admit` (the stream ended). */
  release(): void;
}

/** What the gate reads from a server call. */
export interface CallCredentials {
  metadata: grpc.Metadata;
  getAuthContext?(): { sslPeerCertificate?: import('node:tls').PeerCertificate } | null;
}

/** The node group name identities are bound to: Envoy's node.cluster (`default` when empty), `proxyless` for gRPC clients. */
export const groupName = (node: XdsNode): string => {
  const g = groupOf(node);
  return g.kind === 'envoy' ? g.cluster : 'proxyless';
};

/** The credentials a call carries: the TLS-verified client certificate and an `authorization: Bearer` header. */
export function peerOf(call: CallCredentials): XdsPeer | Refusal {
  const auth = call.getAuthContext?.();
  const peer: XdsPeer = auth?.sslPeerCertificate ? { certificate: auth.sslPeerCertificate } : {};
  const header = call.metadata.get('authorization');
  if (header.length) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(String(header[0]));
    if (!m || header.length > 1) return { code: grpc.status.UNAUTHENTICATED, reason: 'bad_token', details: 'authorization metadata must be one "Bearer <token>"' };
    peer.bearerToken = m[1];
  }
  return peer;
}

/**
 * Who may open xDS streams into which node groups (XDS_AUTH). Identities come
 * from the XdsIdentityResolver port; this class enforces them: the identity
 * must be bound to the node group the first request claims, and one node id
 * belongs to one identity at a time (a second identity using a connected
 * node's id would otherwise take over its config and its status). Every
 * refusal is reported through `onRefusal` (the metric) before the stream ends.
 */
export class XdsGate {
  /** Connected node ids: which identity holds each, on how many streams. */
  private readonly claims = new Map<string, { identity: string; streams: number }>();

  constructor(
    private readonly mode: AppConfig['XDS_AUTH'],
    private resolver: XdsIdentityResolver | undefined,
    private readonly onRefusal: (r: Refusal) => void,
  ) {}

  /** Replaces the resolver for streams opened from now on (a module that verifies other tokens, wired at bootstrap). */
  useResolver(resolver: XdsIdentityResolver): void {
    this.resolver = resolver;
  }

  /** False with XDS_AUTH=none: streams then run exactly as without this gate. */
  get enabled(): boolean {
    return this.mode !== 'none' && !!this.resolver;
  }

  /** Resolves the caller of `call`; a refusal has already been counted. */
  async identify(call: CallCredentials): Promise<StreamPass | Refusal> {
    const peer = peerOf(call);
    if ('code' in peer) return this.refuse(peer);
    let result;
    try {
      result = await this.resolver!.resolve(peer);
    } catch (e) {
      // A resolver that fails (its store is down) refuses rather than admits.
      return this.refuse({ code: grpc.status.UNAVAILABLE, reason: 'bad_token', details: `identity could not be checked: ${(e as Error).message}` });
    }
    if (result.refused) return this.refuse({ code: grpc.status.UNAUTHENTICATED, reason: result.refused, details: result.message ?? 'credentials refused' });
    let identity = result.identity;
    if (!identity) {
      if (this.mode === 'required') {
        return this.refuse({ code: grpc.status.UNAUTHENTICATED, reason: 'no_identity', details: 'XDS_AUTH=required: present a client certificate or an authorization: Bearer token' });
      }
      identity = { id: ANONYMOUS, groups: this.resolver!.anonymousGroups(), via: 'anonymous' };
    }
    return this.pass(identity);
  }

  private pass(identity: XdsIdentity): StreamPass {
    let claimed: string | undefined;
    return {
      identity,
      admit: (node) => {
        const group = groupName(node);
        if (!identity.groups.includes(group) && !identity.groups.includes(ALL_GROUPS)) {
          const bound = identity.groups.length ? `bound to ${identity.groups.join(', ')}` : 'bound to no node group in XDS_IDENTITIES_FILE';
          return this.refuse({ code: grpc.status.PERMISSION_DENIED, reason: 'wrong_group', details: `identity ${identity.id} may not join node group ${group} (${bound})` });
        }
        const id = node.id;
        if (id) {
          const held = this.claims.get(id);
          if (held && held.identity !== identity.id) {
            return this.refuse({ code: grpc.status.PERMISSION_DENIED, reason: 'node_id_taken', details: `node id ${id} is connected under another identity` });
          }
          if (held) held.streams++;
          else this.claims.set(id, { identity: identity.id, streams: 1 });
          claimed = id;
        }
        return undefined;
      },
      release: () => {
        if (claimed === undefined) return;
        const held = this.claims.get(claimed);
        if (held && --held.streams <= 0) this.claims.delete(claimed);
        claimed = undefined;
      },
    };
  }

  private refuse(r: Refusal): Refusal {
    this.onRefusal(r);
    return r;
  }
}
