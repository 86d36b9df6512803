import { Body, Controller, Delete, Get, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { WriteCtx } from '../../common/http.js';
import { ApiErrors, ApiResourceResponse, ApiWriteHeaders } from '../../common/openapi.js';
import { EndpointDto } from '../dto/index.js';
import { EndpointsService } from '../endpoints.service.js';
import type { WriteContext } from '../registry.service.js';
import { DeleteResultDto, HeartbeatDto, mergePatchBody, resourceListDto } from './openapi.js';
import { DeleteQueryDto, HistoryQueryDto, ListQueryDto } from './query.dto.js';
import { RegistryHistory } from '../history.js';
import { ApiHistoryResponse } from './history.dto.js';

const EndpointListDto = resourceListDto('Endpoint', EndpointDto);
const NO_SERVICE = 'no Service of this name';
const NO_ENDPOINT = 'no Service, or no endpoint of this name in it';
const HEARTBEAT_ENDPOINT = 'the endpoint is a heartbeat endpoint (register it again to change it, or delete it)';
const COORDINATION = 'the database, or coordination for a heartbeat endpoint, cannot be reached; retry after Retry-After seconds';

/** Endpoints live under their service: /api/v1/services/:service/endpoints. */
@ApiTags('endpoints')
@Controller('api/v1/services/:service/endpoints')
export class EndpointsController {
  constructor(
    private readonly endpoints: EndpointsService,
    private readonly revisions: RegistryHistory,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List the endpoints of a service' })
  @ApiOkResponse({ type: EndpointListDto, description: 'a page of endpoints, each with what active health checks concluded in status.check; heartbeat endpoints come on the last page' })
  @ApiErrors({ 400: 'a bad query parameter (labelSelector, limit or pageToken)', 404: NO_SERVICE, 503: true })
  list(@Param('service') service: string, @Query() q: ListQueryDto) {
    return this.endpoints.list(service, q);
  }

  @Post()
  @ApiOperation({ summary: 'Register an endpoint (name generated when absent); with spec.ttlSeconds it is a heartbeat endpoint' })
  @ApiWriteHeaders({ ifMatch: false })
  @ApiResourceResponse(201, EndpointDto, 'the endpoint as stored')
  @ApiErrors({ 400: true, 404: NO_SERVICE, 409: 'an endpoint of this name already exists', 412: 'If-Match was sent, and a resource that does not exist yet has no version to match', 413: true, 415: true, 503: COORDINATION })
  create(@Param('service') service: string, @Body() body: EndpointDto, @WriteCtx() ctx: WriteContext) {
    return this.endpoints.create(service, body, ctx);
  }

  @Get(':name')
  @ApiOperation({ summary: 'Get an endpoint' })
  @ApiResourceResponse(200, EndpointDto, 'the endpoint, with what active health checks last concluded in status.check')
  @ApiErrors({ 400: 'the name is not valid percent-encoding, or holds a character the database cannot compare (NUL)', 404: NO_ENDPOINT, 503: true })
  get(@Param('service') service: string, @Param('name') name: string) {
    return this.endpoints.get(service, name);
  }

  @Get(':name/history')
  @ApiOperation({ summary: 'Revisions of an endpoint from the change log, newest first (heartbeat endpoints have none); ?diff=FROM..TO for a JSON patch and YAML diff' })
  @ApiHistoryResponse('Endpoint')
  @ApiErrors({ 400: 'a bad limit, before or diff', 404: 'no endpoint of this name was ever written in this service, or diff names a version it never had', 503: true })
  history(@Param('service') service: string, @Param('name') name: string, @Query() q: HistoryQueryDto) {
    return this.revisions.query({ kind: 'Endpoint', scope: service, name }, q);
  }

  @Get(':name/history/:version')
  @ApiOperation({ summary: 'An endpoint as it was at one version (ETag carries that version)' })
  @ApiResourceResponse(200, EndpointDto, 'the endpoint as written at that version')
  @ApiErrors({ 400: 'the version is not an integer >= 1, or is the deletion', 404: 'no such version of this endpoint', 503: true })
  version(@Param('service') service: string, @Param('name') name: string, @Param('version') version: string) {
    return this.revisions.version({ kind: 'Endpoint', scope: service, name }, version);
  }

  @Put(':name')
  @ApiOperation({ summary: 'Replace an endpoint; honours If-Match' })
  @ApiWriteHeaders({ ifMatch: true })
  @ApiResourceResponse(200, EndpointDto, 'the endpoint as stored')
  @ApiErrors({ 400: true, 404: NO_ENDPOINT, 409: HEARTBEAT_ENDPOINT, 412: true, 413: true, 415: true, 503: true })
  replace(@Param('service') service: string, @Param('name') name: string, @Body() body: EndpointDto, @WriteCtx() ctx: WriteContext) {
    return this.endpoints.replace(service, name, body, ctx);
  }

  @Patch(':name')
  @ApiOperation({ summary: 'JSON merge patch of an endpoint (e.g. {"spec":{"health":"draining"}}); honours If-Match' })
  @ApiConsumes('application/merge-patch+json', 'application/json')
  @ApiBody(mergePatchBody('Endpoint'))
  @ApiWriteHeaders({ ifMatch: true })
  @ApiResourceResponse(200, EndpointDto, 'the endpoint as stored')
  @ApiErrors({ 400: 'the patch is not an object, changes kind, name or service, or the patched endpoint is invalid', 404: NO_ENDPOINT, 409: HEARTBEAT_ENDPOINT, 412: true, 413: true, 415: 'unsupported Content-Type: send application/merge-patch+json or application/json', 503: true })
  patch(@Param('service') service: string, @Param('name') name: string, @Body() body: Record<string, unknown>, @WriteCtx() ctx: WriteContext) {
    return this.endpoints.patch(service, name, body, ctx);
  }

  @Put(':name/heartbeat')
  @ApiOperation({ summary: 'Renew a heartbeat endpoint (any replica); with a body, registers it when unknown' })
  @ApiBody({ type: EndpointDto, required: false, description: 'optional: the endpoint (with spec.ttlSeconds) to register when it is unknown or expired' })
  @ApiOkResponse({ type: HeartbeatDto, description: 'renewed (or registered)' })
  @ApiErrors({ 400: 'the body is not valid JSON, or the endpoint it registers is invalid', 404: 'not registered, or its TTL expired (and no body to register it with)', 409: 'a durable endpoint of this name exists', 413: true, 415: true, 503: 'coordination cannot be reached; retry after Retry-After seconds' })
  heartbeat(@Param('service') service: string, @Param('name') name: string, @Body() body: Record<string, unknown>) {
    return this.endpoints.heartbeat(service, name, body);
  }

  @Delete(':name')
  @ApiOperation({ summary: 'Deregister an endpoint; honours If-Match (durable endpoints)' })
  @ApiWriteHeaders({ ifMatch: true })
  @ApiOkResponse({ type: DeleteResultDto, description: 'what was deleted' })
  @ApiErrors({ 400: 'a bad cascade parameter or a malformed If-Match', 404: NO_ENDPOINT, 412: true, 503: COORDINATION })
  remove(@Param('service') service: string, @Param('name') name: string, @Query() _q: DeleteQueryDto, @WriteCtx() ctx: WriteContext) {
    return this.endpoints.remove(service, name, ctx);
  }
}
