import { Controller, Get, Param } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProxiesService } from './proxies.service.js';

@ApiTags('proxies')
@Controller('api/v1/proxies')
export class ProxiesController {
  constructor(private readonly proxies: ProxiesService) {}

  @Get()
  @ApiOperation({ summary: 'Connected xDS clients with per-type sent/ACKed/NACKed versions' })
  list() {
    return this.proxies.list();
  }

  @Get(':id/config')
  @ApiOperation({ summary: 'The exact resources last sent to a node (like an Envoy config dump)' })
  config(@Param('id') id: string) {
    return this.proxies.config(id);
  }
}
