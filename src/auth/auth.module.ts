import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { TokenStore } from './token-store.js';
import { TokensController } from './tokens.controller.js';
import { TokensService } from './tokens.service.js';

/**
 * API authentication and authorization: tokens, OIDC JWTs, roles and scopes,
 * rate limits. The guard covers every REST route; the gRPC services and the
 * heartbeat fast path call AuthService themselves.
 */
@Global()
@Module({
  controllers: [TokensController],
  providers: [TokenStore, AuthService, TokensService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [AuthService],
})
export class AuthModule {}
