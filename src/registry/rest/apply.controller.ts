import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { WriteCtx } from '../../common/http.js';
import { ApiErrors, ApiRequestContent, ApiWriteHeaders } from '../../common/openapi.js';
import { parseApplyBody } from '../apply-format.js';
import { RegistryService, type WriteContext } from '../registry.service.js';
import { APPLY_BODY, ApplyResultDto, ChangesDto, RESOURCE_DTOS } from './openapi.js';
import { ApplyQueryDto, ChangesQueryDto } from './query.dto.js';

@ApiTags('apply')
@ApiExtraModels(...RESOURCE_DTOS)
@Controller('api/v1')
export class ApplyController {
  constructor(private readonly registry: RegistryService) {}

  @Post('apply')
  @HttpCode(200)
  @ApiOperation({ summary: 'Create or update many resources atomically (all or nothing)' })
  @ApiRequestContent(APPLY_BODY)
  @ApiWriteHeaders({ ifMatch: false })
  @ApiOkResponse({ type: ApplyResultDto, description: 'applied (or, with dryRun=true, validated): one result per document' })
  @ApiErrors({
    400: 'a document is invalid or refers to what does not exist (violations name resources[i].field), or the body is not valid YAML or JSON',
    409: 'a document conflicts with the stored state: a host already served, a subset still in use, a Route owned by a running Rollout',
    412: 'a document carries a version that is not the current one',
    413: true,
    415: 'unsupported Content-Type: send application/yaml or application/json',
    503: true,
  })
  apply(@Body() body: unknown, @Query() q: ApplyQueryDto, @WriteCtx() ctx: WriteContext) {
    return this.registry.apply(parseApplyBody(body), { ...ctx, dryRun: q.dryRun });
  }

  @Get('changes')
  @ApiOperation({ summary: 'The change log after a revision, oldest first' })
  @ApiOkResponse({ type: ChangesDto, description: 'the changes after since, at most limit' })
  @ApiErrors({ 400: 'a bad query parameter (since, limit or withObjects)', 503: true })
  changes(@Query() q: ChangesQueryDto) {
    return this.registry.changes(q.since ?? 0, q.limit ?? 100, q.withObjects);
  }
}
