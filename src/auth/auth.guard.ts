import { type CanActivate, createParamDecorator, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { AuthenticatedRequest } from '../common/http.js';
import { AuthService, type Caller } from './auth.service.js';

type GuardedRequest = Request & AuthenticatedRequest & { caller?: Caller };

/**
 * The global guard (APP_GUARD): every Nest route is checked against the
 * policy table by its Express path; a route with no entry is refused. It runs
 * before the pipes, so scopes are read from the raw params, query and body.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<GuardedRequest>();
    const path = typeof req.route?.path === 'string' ? `${req.baseUrl ?? ''}${req.route.path}` : '(unknown route)';
    const caller = await this.auth.checkRest(header(req.headers.authorization), req.headers['x-switchyard-actor'], req.method, path, {
      params: (req.params ?? {}) as Record<string, string>,
      query: (req.query ?? {}) as Record<string, unknown>,
      body: req.body,
    }, req.ip);
    req.caller = caller;
    if (caller.principal) req.authActor = caller.actor;
    return true;
  }
}

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** The caller the guard authenticated (for handlers that need more than WriteCtx, e.g. token management). */
export const CurrentCaller = createParamDecorator((_: unknown, ctx: ExecutionContext): Caller => ctx.switchToHttp().getRequest<GuardedRequest>().caller ?? { actor: 'anonymous' });
