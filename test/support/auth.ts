import * as grpc from '@grpc/grpc-js';
import type { TestApp } from './app.js';

/** An ADMIN_TOKEN for test apps. */
export const ADMIN = 'test-admin-token-0123456789abcdef';

export const bearer = (secret: string): Record<string, string> => ({ authorization: `Bearer ${secret}` });

/** Creates a token with the admin secret; returns its id and secret. */
export async function createToken(app: TestApp, body: Record<string, unknown>, admin = ADMIN): Promise<{ id: string; secret: string; name: string }> {
  const res = await app.http('POST', '/api/v1/tokens', body, bearer(admin));
  if (res.status !== 201) throw new Error(`creating token ${JSON.stringify(body)}: ${res.status} ${res.text}`);
  return res.body;
}

/** gRPC metadata with a bearer token (or a raw authorization value) and an optional self-declared actor. */
export function metadata(authorization?: string, actor?: string): grpc.Metadata {
  const md = new grpc.Metadata();
  if (authorization !== undefined) md.set('authorization', authorization);
  if (actor) md.set('x-switchyard-actor', actor);
  return md;
}

/** A unary call's outcome: OK or the error code. */
export function grpcCall(client: any, method: string, req: unknown, md: grpc.Metadata): Promise<{ code: grpc.status; res?: any; details?: string }> {
  return new Promise((resolve) =>
    client[method](req, md, { deadline: Date.now() + 10000 }, (err: grpc.ServiceError | null, res: unknown) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, res }),
    ),
  );
}

/** A server-streaming call's outcome: the first message (OK) or the error it ends with. */
export function grpcStream(client: any, method: string, req: unknown, md: grpc.Metadata): Promise<{ code: grpc.status; details?: string }> {
  return new Promise((resolve) => {
    const call = client[method](req, md, { deadline: Date.now() + 10000 });
    call.on('data', () => {
      call.cancel();
      resolve({ code: grpc.status.OK });
    });
    call.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
    call.on('end', () => resolve({ code: grpc.status.OK }));
  });
}
