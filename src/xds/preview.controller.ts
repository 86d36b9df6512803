import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { WriteCtx } from '../common/http.js';
import { ApiErrors, ApiRequestContent, ApiWriteHeaders } from '../common/openapi.js';
import { APPLY_BODY, RESOURCE_DTOS } from '../registry/rest/openapi.js';
import type { WriteContext } from '../registry/registry.service.js';
import { RegistryRollbackDto } from '../registry/rest/history.dto.js';
import { PreviewResultDto, RollbackPreviewDto, TypeDiffDto } from './openapi.js';
import { XdsPreview } from './preview.js';

@ApiTags('apply')
@ApiExtraModels(TypeDiffDto, ...RESOURCE_DTOS)
@Controller('api/v1/preview')
export class PreviewController {
  constructor(private readonly preview: XdsPreview) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Dry-run an apply and show, per node group, the clusters, endpoints, listeners and routes it would add, change or remove' })
  @ApiRequestContent({ ...APPLY_BODY, description: `The same body as /apply. ${APPLY_BODY.description}` })
  @ApiWriteHeaders({ ifMatch: false })
  @ApiOkResponse({ type: PreviewResultDto, description: 'the apply\'s dry-run results and the xDS diff; nothing is written or pushed' })
  @ApiErrors({
    400: 'a document is invalid or refers to what does not exist (violations name resources[i].field), or the body is not valid YAML or JSON',
    409: 'a document conflicts with the stored state, as /apply would answer',
    412: 'a document carries a version that is not the current one',
    413: true,
    415: 'unsupported Content-Type: send application/yaml or application/json',
    503: true,
  })
  run(@Body() body: unknown, @WriteCtx() ctx: WriteContext) {
    return this.preview.preview(body, ctx);
  }

  @Post('rollback')
  @HttpCode(200)
  @ApiOperation({ summary: 'Dry-run a rollback (as POST /rollback with dryRun) and show the xDS diff it would cause, per node group' })
  @ApiBody({ type: RegistryRollbackDto, description: 'the same body as /rollback (dryRun is implied)' })
  @ApiWriteHeaders({ ifMatch: false })
  @ApiOkResponse({ type: RollbackPreviewDto, description: 'what the rollback would do to each resource and to each node group\'s xDS; nothing is written or pushed' })
  @ApiErrors({
    400: 'a bad body, a revision in the future, or the result would break a reference (violations name resources[Kind/name].field)',
    409: 'the result would conflict, as /rollback would answer',
    413: true,
    415: true,
    503: true,
  })
  rollback(@Body() body: RegistryRollbackDto, @WriteCtx() ctx: WriteContext) {
    return this.preview.previewRollback(body, ctx);
  }
}
