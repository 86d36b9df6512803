import type * as grpc from '@grpc/grpc-js';
import { type FieldViolation, ValidationFailed } from '../../common/errors.js';
import { toGrpcError } from '../../common/grpc-errors.js';

/** A request message whose bytes did not decode (truncated, a wrong wire type, nesting past the decoder's stack). */
class Undecodable {
  constructor(readonly reason: string) {}
}

/** The field a violation of an undecodable message names: the message as a whole. */
export const WHOLE_MESSAGE = '(message)';

function refusal(method: string, u: Undecodable): Partial<grpc.ServiceError> {
  return toGrpcError(new ValidationFailed([{ field: WHOLE_MESSAGE, message: `the ${method} request does not decode: ${u.reason.slice(0, 200)}` }]));
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const isStruct = (v: object) => 'fields' in v && Object.keys(v).length === 1;

/**
 * Fields of a decoded request no store can keep or compare, by path: a NUL or
 * a lone surrogate in a string (PostgreSQL refuses them; the store's refusal
 * names no field), an int64 past 2^53 (it decodes to a double that is not the
 * number sent, and PostgreSQL's bigint refuses 2^63). Struct contents are left
 * to resource validation, which names their fields itself.
 */
export function unstorableFields(v: unknown, path = ''): FieldViolation[] {
  if (typeof v === 'string') return v.includes('\u0000') || LONE_SURROGATE.test(v) ? [{ field: path, message: 'must not contain NUL or lone surrogates' }] : [];
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v) ? [{ field: path, message: 'must be between -(2^53 - 1) and 2^53 - 1' }] : [];
  if (v === null || typeof v !== 'object' || isStruct(v)) return [];
  if (Array.isArray(v)) return v.flatMap((x, i) => unstorableFields(x, `${path}[${i}]`));
  return Object.entries(v).flatMap(([k, x]) => {
    const field = path ? `${path}.${k}` : k;
    // A map key is checked as the entry's field.
    return [...(typeof k === 'string' && path && (k.includes('\u0000') || LONE_SURROGATE.test(k)) ? [{ field, message: 'key must not contain NUL or lone surrogates' }] : []), ...unstorableFields(x, field)];
  });
}

function unstorable(request: unknown): Partial<grpc.ServiceError> | undefined {
  const bad = unstorableFields(request);
  return bad.length ? toGrpcError(new ValidationFailed(bad)) : undefined;
}

/**
 * A service whose requests that do not decode are answered INVALID_ARGUMENT
 * (a BadRequest violation of field `(message)`), not INTERNAL. grpc-js answers
 * INTERNAL when a request deserializer throws, and protobufjs throws on
 * truncated messages, wrong wire types and nesting deep enough to exhaust the
 * stack: all of them bad input from the client. The deserializer returns a
 * marker instead, and the handler answers it before any access check or work;
 * so too a request holding values no store keeps (unstorableFields).
 */
export function guardDecoding(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): { service: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
  const guardedService: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const guardedImpl: grpc.UntypedServiceImplementation = {};
  for (const [name, m] of Object.entries(service)) {
    guardedService[name] = {
      ...m,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return m.requestDeserialize(bytes);
        } catch (e) {
          return new Undecodable(e instanceof Error ? e.message : String(e));
        }
      },
    };
    const handler = implementation[name] as (...args: any[]) => void;
    if (!handler || m.requestStream) {
      // Client streams read their messages themselves; none is served here (yet).
      if (handler) guardedImpl[name] = handler;
      continue;
    }
    guardedImpl[name] = m.responseStream
      ? (call: grpc.ServerWritableStream<unknown, unknown>) => {
          if (call.request instanceof Undecodable) return void call.emit('error', refusal(name, call.request));
          const bad = unstorable(call.request);
          if (bad) return void call.emit('error', bad);
          handler(call);
        }
      : (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          if (call.request instanceof Undecodable) return callback(refusal(name, call.request));
          const bad = unstorable(call.request);
          if (bad) return callback(bad);
          handler(call, callback);
        };
  }
  return { service: guardedService as grpc.ServiceDefinition, implementation: guardedImpl };
}
