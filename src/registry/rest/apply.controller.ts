import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import { WriteCtx } from '../../common/http.js';
import { parseApplyBody } from '../apply-format.js';
import { RegistryService, type WriteContext } from '../registry.service.js';
import { ApplyQueryDto, ChangesQueryDto } from './query.dto.js';

@ApiTags('apply')
@Controller('api/v1')
export class ApplyController {
  constructor(private readonly registry: RegistryService) {}

  @Post('apply')
  @HttpCode(200)
  @ApiOperation({ summary: 'Create or update many resources atomically (all or nothing)' })
  @ApiConsumes('application/yaml', 'application/json')
  @ApiBody({ description: 'multi-document YAML, a JSON array, or {"resources": [...]}', schema: { type: 'string' } })
  apply(@Body() body: unknown, @Query() q: ApplyQueryDto, @WriteCtx() ctx: WriteContext) {
    return this.registry.apply(parseApplyBody(body), { ...ctx, dryRun: q.dryRun });
  }

  @Get('changes')
  @ApiOperation({ summary: 'The change log after a revision, oldest first' })
  changes(@Query() q: ChangesQueryDto) {
    return this.registry.changes(q.since ?? 0, q.limit ?? 100, q.withObjects);
  }
}
