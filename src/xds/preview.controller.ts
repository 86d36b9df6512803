import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import { WriteCtx } from '../common/http.js';
import type { WriteContext } from '../registry/registry.service.js';
import { XdsPreview } from './preview.js';

@ApiTags('apply')
@Controller('api/v1/preview')
export class PreviewController {
  constructor(private readonly preview: XdsPreview) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Dry-run an apply and show, per node group, the clusters, endpoints, listeners and routes it would add, change or remove' })
  @ApiConsumes('application/yaml', 'application/json')
  @ApiBody({ description: 'the same body as /apply: multi-document YAML, a JSON array, or {"resources": [...]}', schema: { type: 'string' } })
  run(@Body() body: unknown, @WriteCtx() ctx: WriteContext) {
    return this.preview.preview(body, ctx);
  }
}
