import { Body, Controller, Delete, Get, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, ApiWriteHeaders } from '../common/openapi.js';
import type { Caller } from './auth.service.js';
import { CurrentCaller } from './auth.guard.js';
import { CreatedTokenDto, CreateTokenDto, DeletedTokenDto, TokenListDto } from './dto.js';
import { TokensService } from './tokens.service.js';

/** API tokens (admin only): the secret is shown once, at creation. */
@ApiTags('tokens')
@Controller('api/v1/tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @ApiOperation({ summary: 'Create a token; the answer carries its secret, shown only this once' })
  @ApiWriteHeaders({ ifMatch: false })
  @ApiResponse({ status: 201, type: CreatedTokenDto, description: 'the token and its secret' })
  @ApiErrors({ 400: 'an invalid or unknown field (id, secret, createdAt and createdBy are the server\'s), or expiresAt in the past', 409: 'a token of this name already exists', 413: true, 415: true, 503: true })
  create(@Body() body: CreateTokenDto, @CurrentCaller() caller: Caller) {
    return this.tokens.create(body, caller);
  }

  @Get()
  @ApiOperation({ summary: 'List tokens (never their secrets)' })
  @ApiOkResponse({ type: TokenListDto, description: 'every token' })
  @ApiErrors({ 503: true })
  list() {
    return this.tokens.list();
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete (revoke) a token' })
  @ApiParam({ name: 'id', description: 'the token id (the <id> in sy_<id>_<secret>)' })
  @ApiWriteHeaders({ ifMatch: false })
  @ApiOkResponse({ type: DeletedTokenDto, description: 'the token deleted' })
  @ApiErrors({ 400: 'the id is not valid percent-encoding, or holds a character the database cannot compare (NUL)', 404: 'no token with this id', 409: 'the token making the request cannot delete itself', 503: true })
  remove(@Param('id') id: string, @CurrentCaller() caller: Caller) {
    return this.tokens.remove(id, caller);
  }
}
