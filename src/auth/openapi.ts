/**
 * The policy in the OpenAPI document: a bearer security scheme, each
 * operation's required role (x-switchyard-role), and its 401, 403 and 429
 * answers; open operations say `security: []`. Documentation only.
 */
import type { OpenAPIObject } from '@nestjs/swagger';
import { type Policy, restPolicy } from './policy.js';

const ERROR = { $ref: '#/components/schemas/ErrorBodyDto' };
const json = { 'application/json': { schema: ERROR } };

/** Adds authentication to every operation of the document (by its path, in Express syntax). */
export function documentAuth(doc: OpenAPIObject): OpenAPIObject {
  doc.components ??= {};
  doc.components.securitySchemes = {
    ...(doc.components.securitySchemes ?? {}),
    bearer: { type: 'http', scheme: 'bearer', description: 'a Switchyard token (sy_<id>_<secret>), ADMIN_TOKEN, or a JWT from the OIDC provider; not needed with AUTH_MODE=none' },
  };
  for (const [path, item] of Object.entries(doc.paths)) {
    const express = path.replace(/\{(\w+)\}/g, ':$1');
    for (const [method, op] of Object.entries(item as Record<string, any>)) {
      if (!op || typeof op !== 'object' || !op.responses) continue;
      const policy: Policy | undefined = restPolicy(method.toUpperCase(), express);
      if (policy && 'public' in policy) {
        op.security = [];
        continue;
      }
      op.security = [{ bearer: [] }];
      op['x-switchyard-role'] = policy?.role ?? 'none (refused: no policy)';
      op.responses['401'] ??= {
        description: 'no token, or an expired, malformed or unknown one (AUTH_MODE=token)',
        headers: { 'WWW-Authenticate': { description: 'Bearer realm="switchyard"', schema: { type: 'string' } } },
        content: json,
      };
      op.responses['403'] ??= { description: `the token's role is below ${policy?.role ?? 'what the route needs'}, or its scopes do not cover the request`, content: json };
      op.responses['429'] ??= {
        description: 'the token made more requests than AUTH_RATE_LIMIT_RPS / AUTH_RATE_LIMIT_BURST allow',
        headers: { 'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer', example: 1 } } },
        content: json,
      };
    }
  }
  return doc;
}
