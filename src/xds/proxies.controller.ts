import { Controller, Get, Param } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/openapi.js';
import { ProxiesService } from './proxies.service.js';
import { ProxyConfigDto, ProxyListDto, SentConfigDto, TypeStatusDto } from './openapi.js';

@ApiTags('proxies')
@ApiExtraModels(TypeStatusDto, SentConfigDto)
@Controller('api/v1/proxies')
export class ProxiesController {
  constructor(private readonly proxies: ProxiesService) {}

  @Get()
  @ApiOperation({ summary: 'Connected xDS clients with per-type sent/ACKed/NACKed versions' })
  @ApiOkResponse({ type: ProxyListDto, description: 'the streams connected to this replica' })
  list() {
    return this.proxies.list();
  }

  @Get(':id/config')
  @ApiOperation({ summary: 'The exact resources last sent to a node (like an Envoy config dump)' })
  @ApiParam({ name: 'id', description: 'node id' })
  @ApiOkResponse({ type: [ProxyConfigDto], description: 'one entry per stream of the node connected to this replica' })
  @ApiErrors({ 400: 'the id is not valid percent-encoding', 404: 'no connected proxy with this node id (on this replica)' })
  config(@Param('id') id: string) {
    return this.proxies.config(id);
  }
}
