import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { WriteCtx } from '../../common/http.js';
import { ApiErrors, ApiWriteHeaders } from '../../common/openapi.js';
import { RegistryService, type WriteContext } from '../registry.service.js';
import { RegistryRollbackDto, RollbackResultDto } from './history.dto.js';

/** POST /api/v1/rollback: the registry (or some of it) back to a store revision. */
@ApiTags('history')
@Controller('api/v1/rollback')
export class RollbackController {
  constructor(private readonly registry: RegistryService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Restore every resource (or the selected kinds and names) to its state at a store revision, in one transaction recorded as new changes' })
  @ApiBody({ type: RegistryRollbackDto })
  @ApiWriteHeaders({ ifMatch: false })
  @ApiOkResponse({ type: RollbackResultDto, description: 'rolled back (or, with dryRun, checked): one entry per resource changed since' })
  @ApiErrors({
    400: 'a bad body, a revision in the future, or the result would break a reference (violations name resources[Kind/name].field)',
    409: 'the result conflicts: a host served twice, a subset still in use, a Route owned by a running Rollout',
    413: true,
    415: true,
    503: true,
  })
  rollback(@Body() body: RegistryRollbackDto, @WriteCtx() ctx: WriteContext) {
    return this.registry.rollback(body, ctx);
  }
}
