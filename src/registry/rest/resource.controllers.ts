import { Body, Controller, Delete, Get, Param, Patch, Post, Put, Query, type Type } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { WriteCtx } from '../../common/http.js';
import { ApiErrors, ApiResourceResponse, ApiWriteHeaders } from '../../common/openapi.js';
import { ListenerDto, PolicyDto, RolloutDto, RouteDto, ServiceDto, type ResourceDto } from '../dto/index.js';
import { type Kind, PLURAL } from '../../model/resources.js';
import { RegistryService, type WriteContext } from '../registry.service.js';
import { DeleteResultDto, mergePatchBody, resourceListDto } from './openapi.js';
import { DeleteQueryDto, HistoryQueryDto, ListQueryDto } from './query.dto.js';
import { RegistryHistory } from '../history.js';
import { ApiHistoryResponse } from './history.dto.js';

/** CRUD controller for a top-level kind at /api/v1/<plural>. */
function resourceController(kind: Exclude<Kind, 'Endpoint' | 'Config'>, dto: Type<ResourceDto>) {
  const list = resourceListDto(kind, dto);
  const conflict = CONFLICTS[kind];

  @ApiTags(PLURAL[kind])
  @Controller(`api/v1/${PLURAL[kind]}`)
  class ResourceController {
    constructor(
      readonly registry: RegistryService,
      readonly revisions: RegistryHistory,
    ) {}

    @Get()
    @ApiOperation({ summary: `List ${kind} resources` })
    @ApiOkResponse({ type: list, description: `a page of ${kind} resources` })
    @ApiErrors({ 400: 'a bad query parameter (labelSelector, limit or pageToken)', 503: true })
    list(@Query() q: ListQueryDto) {
      return this.registry.list(kind, q);
    }

    @Post()
    @ApiOperation({ summary: `Create a ${kind}` })
    @ApiBody({ type: dto })
    @ApiWriteHeaders({ ifMatch: false })
    @ApiResourceResponse(201, dto, `the ${kind} as stored (version 1)`)
    @ApiErrors({ 400: true, 409: `a ${kind} of this name already exists${conflict.create ? `, or ${conflict.create}` : ''}`, 412: 'If-Match was sent, and a resource that does not exist yet has no version to match', 413: true, 415: true, 503: true })
    create(@Body() body: ResourceDto, @WriteCtx() ctx: WriteContext) {
      return this.registry.create(kind, body, ctx);
    }

    @Get(':name')
    @ApiOperation({ summary: `Get a ${kind} (ETag carries its version)` })
    @ApiResourceResponse(200, dto, `the ${kind}`)
    @ApiErrors({ 400: 'the name is not valid percent-encoding, or holds a character the database cannot compare (NUL)', 404: `no ${kind} of this name`, 503: true })
    get(@Param('name') name: string) {
      return this.registry.get({ kind, scope: '', name });
    }

    @Get(':name/history')
    @ApiOperation({ summary: `Revisions of a ${kind} from the change log, newest first; ?diff=FROM..TO for a JSON patch and YAML diff` })
    @ApiHistoryResponse(kind)
    @ApiErrors({ 400: 'a bad limit, before or diff', 404: `no ${kind} of this name was ever written, or diff names a version it never had`, 503: true })
    history(@Param('name') name: string, @Query() q: HistoryQueryDto) {
      return this.revisions.query({ kind, scope: '', name }, q);
    }

    @Get(':name/history/:version')
    @ApiOperation({ summary: `A ${kind} as it was at one version (ETag carries that version)` })
    @ApiResourceResponse(200, dto, `the ${kind} as written at that version`)
    @ApiErrors({ 400: 'the version is not an integer >= 1, or is the deletion', 404: `no such version of a ${kind} of this name`, 503: true })
    version(@Param('name') name: string, @Param('version') version: string) {
      return this.revisions.version({ kind, scope: '', name }, version);
    }

    @Put(':name')
    @ApiOperation({ summary: `Replace a ${kind}; honours If-Match` })
    @ApiBody({ type: dto })
    @ApiWriteHeaders({ ifMatch: true })
    @ApiResourceResponse(200, dto, `the ${kind} as stored (unchanged, same version, when the body changes nothing)`)
    @ApiErrors({ 400: true, 404: `no ${kind} of this name`, ...(conflict.update ? { 409: conflict.update } : {}), 412: true, 413: true, 415: true, 503: true })
    replace(@Param('name') name: string, @Body() body: ResourceDto, @WriteCtx() ctx: WriteContext) {
      return this.registry.replace({ kind, scope: '', name }, body, ctx);
    }

    @Patch(':name')
    @ApiOperation({ summary: `JSON merge patch (RFC 7396) of a ${kind}; honours If-Match` })
    @ApiConsumes('application/merge-patch+json', 'application/json')
    @ApiBody(mergePatchBody(kind))
    @ApiWriteHeaders({ ifMatch: true })
    @ApiResourceResponse(200, dto, `the ${kind} as stored`)
    @ApiErrors({ 400: 'the patch is not an object, changes kind or name, or the patched resource is invalid', 404: `no ${kind} of this name`, ...(conflict.update ? { 409: conflict.update } : {}), 412: true, 413: true, 415: 'unsupported Content-Type: send application/merge-patch+json or application/json', 503: true })
    patch(@Param('name') name: string, @Body() body: Record<string, unknown>, @WriteCtx() ctx: WriteContext) {
      return this.registry.patch({ kind, scope: '', name }, body, ctx);
    }

    @Delete(':name')
    @ApiOperation({ summary: `Delete a ${kind}; 409 while referenced unless cascade=true` })
    @ApiWriteHeaders({ ifMatch: true })
    @ApiOkResponse({ type: DeleteResultDto, description: 'what was deleted and what was changed' })
    @ApiErrors({ 400: 'a bad cascade parameter or a malformed If-Match', 404: `no ${kind} of this name`, ...(conflict.remove ? { 409: conflict.remove } : {}), 412: true, 503: true })
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

const REFERENCED = 'still referenced by other resources (referrers lists them; ?cascade=true removes the references)';
const OWNED = 'a running Rollout owns the rules of this Route (rollout, phase)';

/** When a create, an update (PUT, PATCH) or a delete of each kind answers 409 (besides a create's name already taken). */
const CONFLICTS: Record<Exclude<Kind, 'Endpoint' | 'Config'>, { create?: string; update?: string; remove?: string }> = {
  Service: { update: 'a subset still used by a Route or Rollout would be removed (referrers lists them)', remove: REFERENCED },
  Route: {
    create: 'a host is already served by another Route (field, conflictsWith)',
    update: `a host is already served by another Route (field, conflictsWith), or ${OWNED}`,
    remove: `${REFERENCED}, or ${OWNED}`,
  },
  Listener: {},
  Policy: { remove: REFERENCED },
  Rollout: {},
};

export const ServicesController = resourceController('Service', ServiceDto);
export const RoutesController = resourceController('Route', RouteDto);
export const ListenersController = resourceController('Listener', ListenerDto);
export const PoliciesController = resourceController('Policy', PolicyDto);
export const RolloutsController = resourceController('Rollout', RolloutDto);
