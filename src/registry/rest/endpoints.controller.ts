import { Body, Controller, Delete, Get, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import { WriteCtx } from '../../common/http.js';
import { EndpointDto } from '../dto/index.js';
import { EndpointsService } from '../endpoints.service.js';
import type { WriteContext } from '../registry.service.js';
import { DeleteQueryDto, ListQueryDto } from './query.dto.js';

/** Endpoints live under their service: /api/v1/services/:service/endpoints. */
@ApiTags('endpoints')
@Controller('api/v1/services/:service/endpoints')
export class EndpointsController {
  constructor(private readonly endpoints: EndpointsService) {}

  @Get()
  @ApiOperation({ summary: 'List the endpoints of a service' })
  list(@Param('service') service: string, @Query() q: ListQueryDto) {
    return this.endpoints.list(service, q);
  }

  @Post()
  @ApiOperation({ summary: 'Register an endpoint (name generated when absent); with spec.ttlSeconds it is a heartbeat endpoint' })
  create(@Param('service') service: string, @Body() body: EndpointDto, @WriteCtx() ctx: WriteContext) {
    return this.endpoints.create(service, body, ctx);
  }

  @Get(':name')
  @ApiOperation({ summary: 'Get an endpoint' })
  get(@Param('service') service: string, @Param('name') name: string) {
    return this.endpoints.get(service, name);
  }

  @Put(':name')
  @ApiOperation({ summary: 'Replace an endpoint; honours If-Match' })
  replace(@Param('service') service: string, @Param('name') name: string, @Body() body: EndpointDto, @WriteCtx() ctx: WriteContext) {
    return this.endpoints.replace(service, name, body, ctx);
  }

  @Patch(':name')
  @ApiOperation({ summary: 'JSON merge patch of an endpoint (e.g. {"spec":{"health":"draining"}})' })
  @ApiConsumes('application/merge-patch+json', 'application/json')
  patch(@Param('service') service: string, @Param('name') name: string, @Body() body: Record<string, unknown>, @WriteCtx() ctx: WriteContext) {
    return this.endpoints.patch(service, name, body, ctx);
  }

  @Put(':name/heartbeat')
  @ApiOperation({ summary: 'Renew a heartbeat endpoint (any replica); with a body, registers it when unknown' })
  heartbeat(@Param('service') service: string, @Param('name') name: string, @Body() body: Record<string, unknown>) {
    return this.endpoints.heartbeat(service, name, body);
  }

  @Delete(':name')
  @ApiOperation({ summary: 'Deregister an endpoint' })
  remove(@Param('service') service: string, @Param('name') name: string, @Query() _q: DeleteQueryDto, @WriteCtx() ctx: WriteContext) {
    return this.endpoints.remove(service, name, ctx);
  }
}
