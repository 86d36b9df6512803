import { join } from 'node:path';
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { DomainError, ValidationFailed } from './errors.js';
import { XDS_DEPS_DIR } from './paths.js';

const CODE: Record<DomainError['code'], Status> = {
  invalid: Status.INVALID_ARGUMENT,
  too_large: Status.INVALID_ARGUMENT,
  not_found: Status.NOT_FOUND,
  conflict: Status.FAILED_PRECONDITION,
  already_exists: Status.ALREADY_EXISTS,
  precondition: Status.FAILED_PRECONDITION,
  unavailable: Status.UNAVAILABLE,
  unauthenticated: Status.UNAUTHENTICATED,
  permission_denied: Status.PERMISSION_DENIED,
  rate_limited: Status.RESOURCE_EXHAUSTED,
  insufficient_storage: Status.RESOURCE_EXHAUSTED,
};

const BAD_REQUEST_URL = 'type.googleapis.com/google.rpc.BadRequest';

let rpcTypes: { Status: protobuf.Type; BadRequest: protobuf.Type } | undefined;
function types() {
  if (!rpcTypes) {
    const root = new protobuf.Root();
    const base = join(XDS_DEPS_DIR, 'googleapis');
    root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(base, target));
    root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto']);
    rpcTypes = { Status: root.lookupType('google.rpc.Status'), BadRequest: root.lookupType('google.rpc.BadRequest') };
  }
  return rpcTypes;
}

/**
 * Longest status message and violation text sent, in characters. They travel
 * in trailers (grpc-message percent-encoded, details base64), and an error
 * quoting a client's 1 MB name made trailers of megabytes: the client's
 * HTTP/2 session stalled on them, and every call on the connection with it.
 */
const MAX_TEXT = 1024;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/**
 * Well-formed too: grpc-js writes the message with encodeURI, which throws on
 * a lone surrogate (a pair cut by the slice) outside any handler, and the
 * call is never answered.
 */
const cap = (s: string) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}… (${s.length - MAX_TEXT} more characters)` : s).replace(LONE_SURROGATE, '\uFFFD');

/** Domain error → gRPC error; validation failures carry google.rpc.BadRequest details. */
export function toGrpcError(err: unknown): Partial<ServiceError> {
  if (!(err instanceof DomainError)) return { code: Status.INTERNAL, details: 'internal error' };
  const code = CODE[err.code];
  const metadata = new Metadata();
  const message = cap(err.message);
  if (err instanceof ValidationFailed) {
    const t = types();
    const badRequest = t.BadRequest.encode(
      t.BadRequest.create({ fieldViolations: err.violations.map((v) => ({ field: cap(v.field), description: cap(v.message) })) }),
    ).finish();
    const st = t.Status.encode(
      t.Status.create({ code, message, details: [{ type_url: BAD_REQUEST_URL, typeUrl: BAD_REQUEST_URL, value: badRequest }] }),
    ).finish();
    metadata.set('grpc-status-details-bin', Buffer.from(st));
  }
  return { code, details: message, metadata };
}

/** Decodes google.rpc.BadRequest field violations from a gRPC error (used by clients and tests). */
export function badRequestViolations(err: { metadata?: Metadata }): { field: string; description: string }[] {
  const raw = err.metadata?.get('grpc-status-details-bin')[0];
  if (!raw) return [];
  const t = types();
  const st = t.Status.decode(raw as Buffer) as unknown as { details: { type_url?: string; typeUrl?: string; value: Uint8Array }[] };
  const out: { field: string; description: string }[] = [];
  for (const d of st.details) {
    if ((d.type_url || d.typeUrl) !== BAD_REQUEST_URL) continue;
    const br = t.BadRequest.decode(d.value) as unknown as { fieldViolations: { field: string; description: string }[] };
    out.push(...br.fieldViolations);
  }
  return out;
}
