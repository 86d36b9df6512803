import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/openapi.js';
import { AuditLog } from './audit-log.js';
import { AuditPageDto, AuditQueryDto } from './audit.dto.js';

/** GET /api/v1/audit: the audit trail (admin only once auth lands). */
@ApiTags('audit')
@Controller('api/v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditLog) {}

  @Get()
  @ApiOperation({ summary: 'Audit events (committed writes, authentication failures), oldest first; admin only once authentication lands' })
  @ApiOkResponse({ type: AuditPageDto, description: 'a page of events' })
  @ApiErrors({ 400: 'a bad since, limit, actor, kind or type', 503: true })
  list(@Query() q: AuditQueryDto) {
    return this.audit.query(q);
  }
}
