import { Body, Controller, Delete, Get, Param, Patch, Post, Put, Query, type Type } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import { WriteCtx } from '../../common/http.js';
import { ListenerDto, PolicyDto, RolloutDto, RouteDto, ServiceDto, type ResourceDto } from '../dto/index.js';
import { type Kind, PLURAL } from '../../model/resources.js';
import { RegistryService, type WriteContext } from '../registry.service.js';
import { DeleteQueryDto, ListQueryDto } from './query.dto.js';

/** CRUD controller for a top-level kind at /api/v1/<plural>. */
function resourceController(kind: Kind, dto: Type<ResourceDto>) {
  @ApiTags(PLURAL[kind])
  @Controller(`api/v1/${PLURAL[kind]}`)
  class ResourceController {
    constructor(readonly registry: RegistryService) {}

    @Get()
    @ApiOperation({ summary: `List ${kind} resources` })
    list(@Query() q: ListQueryDto) {
      return this.registry.list(kind, q);
    }

    @Post()
    @ApiOperation({ summary: `Create a ${kind}` })
    @ApiBody({ type: dto })
    create(@Body() body: ResourceDto, @WriteCtx() ctx: WriteContext) {
      return this.registry.create(kind, body, ctx);
    }

    @Get(':name')
    @ApiOperation({ summary: `Get a ${kind} (ETag carries its version)` })
    get(@Param('name') name: string) {
      return this.registry.get({ kind, scope: '', name });
    }

    @Put(':name')
    @ApiOperation({ summary: `Replace a ${kind}; honours If-Match` })
    @ApiBody({ type: dto })
    replace(@Param('name') name: string, @Body() body: ResourceDto, @WriteCtx() ctx: WriteContext) {
      return this.registry.replace({ kind, scope: '', name }, body, ctx);
    }

    @Patch(':name')
    @ApiOperation({ summary: `JSON merge patch (RFC 7396) of a ${kind}; honours If-Match` })
    @ApiConsumes('application/merge-patch+json', 'application/json')
    patch(@Param('name') name: string, @Body() body: Record<string, unknown>, @WriteCtx() ctx: WriteContext) {
      return this.registry.patch({ kind, scope: '', name }, body, ctx);
    }

    @Delete(':name')
    @ApiOperation({ summary: `Delete a ${kind}; 409 while referenced unless cascade=true` })
    remove(@Param('name') name: string, @Query() q: DeleteQueryDto, @WriteCtx() ctx: WriteContext) {
      return this.registry.remove({ kind, scope: '', name }, { ...ctx, cascade: q.cascade });
    }
  }
  // Bind the body type so the global ValidationPipe validates against this kind's DTO.
  Reflect.defineMetadata('design:paramtypes', [String, dto, Object], ResourceController.prototype, 'replace');
  Reflect.defineMetadata('design:paramtypes', [dto, Object], ResourceController.prototype, 'create');
  Object.defineProperty(ResourceController, 'name', { value: `${kind}Controller` });
  return ResourceController;
}

export const ServicesController = resourceController('Service', ServiceDto);
export const RoutesController = resourceController('Route', RouteDto);
export const ListenersController = resourceController('Listener', ListenerDto);
export const PoliciesController = resourceController('Policy', PolicyDto);
export const RolloutsController = resourceController('Rollout', RolloutDto);
