import type * as grpc from '@grpc/grpc-js';
import { ValidationFailed } from '../../common/errors.js';
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

/**
 * A service whose requests that do not decode are answered INVALID_ARGUMENT
 * (a BadRequest violation of field `(message)`), not INTERNAL. grpc-js answers
 * INTERNAL when a request deserializer throws, and protobufjs throws on
 * truncated messages, wrong wire types and nesting deep enough to exhaust the
 * stack: all of them bad input from the client. The deserializer returns a
 * marker instead, and the handler answers it before any access check or work.
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
          handler(call);
        }
      : (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          if (call.request instanceof Undecodable) return callback(refusal(name, call.request));
          handler(call, callback);
        };
  }
  return { service: guardedService as grpc.ServiceDefinition, implementation: guardedImpl };
}
