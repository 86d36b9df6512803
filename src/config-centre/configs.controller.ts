import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { WriteCtx } from '../common/http.js';
import { ApiErrors, ApiResourceResponse, ApiWriteHeaders } from '../common/openapi.js';
import { ConfigDto, ConfigGrayDto } from '../registry/dto/config.dto.js';
import type { WriteContext } from '../registry/registry.service.js';
import { DeleteResultDto, mergePatchBody, resourceListDto } from '../registry/rest/openapi.js';
import { ConfigService } from './config.service.js';
import { AckDto, AckResultDto, ConfigListQueryDto, DiffDto, DiffQueryDto, HistoryDto, HistoryQueryDto, InstancesDto, RollbackDto, WatchQueryDto, WatchResultDto } from './dto.js';
import { ConfigWatchService } from './watch.service.js';

const ConfigListDto = resourceListDto('Config', ConfigDto);
const PATH = ':namespace/:group/:name';
const NO_CONFIG = 'no Config of this namespace, group and name';
const BAD_PATH = 'a bad namespace, group or name in the path, or an invalid body (violations names each field; a parse error of the content gives its line)';
const NO_GRAY = 'the config has no gray release';

/** The config centre's REST API: configs, their revisions, gray releases and instances. */
@ApiTags('configs')
@Controller('api/v1/configs')
export class ConfigsController {
  constructor(private readonly configs: ConfigService) {}

  @Get()
  @ApiOperation({ summary: 'List configs (of a namespace, of a group)' })
  @ApiOkResponse({ type: ConfigListDto, description: 'a page of configs, by namespace, group and name' })
  @ApiErrors({ 400: 'a bad query parameter', 503: true })
  list(@Query() q: ConfigListQueryDto) {
    return this.configs.list(q);
  }

  @Post()
  @ApiOperation({ summary: 'Create a config (namespace, group and name in the body)' })
  @ApiWriteHeaders({ ifMatch: false })
  @ApiResourceResponse(201, ConfigDto, 'the config as stored; its version is revision 1 (or continues a deleted config\'s history)')
  @ApiErrors({ 400: BAD_PATH, 409: 'a config of this name already exists', 412: 'If-Match was sent, and a config that does not exist yet has no version to match', 413: 'the content (or the gray candidate) is over 1 MiB', 415: true, 503: true })
  create(@Body() body: ConfigDto, @WriteCtx() ctx: WriteContext) {
    return this.configs.create(body, ctx);
  }

  @Get(PATH)
  @ApiOperation({ summary: 'Get a config (ETag carries its version)' })
  @ApiResourceResponse(200, ConfigDto, 'the config; status.revisions says which revision the current and the gray content are')
  @ApiErrors({ 400: BAD_PATH, 404: NO_CONFIG, 503: true })
  get(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string) {
    return this.configs.get(ns, group, name);
  }

  @Put(PATH)
  @ApiOperation({ summary: 'Create or replace a config; every change is a new revision; honours If-Match' })
  @ApiWriteHeaders({ ifMatch: true })
  @ApiResourceResponse(200, ConfigDto, 'the config as stored (unchanged, same version, when the body changes nothing)')
  @ApiErrors({ 400: BAD_PATH, 404: 'the config was deleted (or created) by other writers while this one replaced it, again after retries', 412: true, 413: 'the content (or the gray candidate) is over 1 MiB', 415: true, 503: true })
  put(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string, @Body() body: ConfigDto, @WriteCtx() ctx: WriteContext) {
    return this.configs.put(ns, group, name, body, ctx);
  }

  @Patch(PATH)
  @ApiOperation({ summary: 'JSON merge patch (RFC 7396) of a config; honours If-Match' })
  @ApiConsumes('application/merge-patch+json', 'application/json')
  @ApiBody(mergePatchBody('Config'))
  @ApiWriteHeaders({ ifMatch: true })
  @ApiResourceResponse(200, ConfigDto, 'the config as stored')
  @ApiErrors({ 400: BAD_PATH, 404: NO_CONFIG, 412: true, 413: true, 415: true, 503: true })
  patch(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string, @Body() body: Record<string, unknown>, @WriteCtx() ctx: WriteContext) {
    return this.configs.patch(ns, group, name, body, ctx);
  }

  @Delete(PATH)
  @ApiOperation({ summary: 'Delete a config (its history stays; watchers are told it is gone)' })
  @ApiWriteHeaders({ ifMatch: true })
  @ApiOkResponse({ type: DeleteResultDto, description: 'what was deleted' })
  @ApiErrors({ 400: BAD_PATH, 404: NO_CONFIG, 412: true, 503: true })
  remove(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string, @WriteCtx() ctx: WriteContext) {
    return this.configs.remove(ns, group, name, ctx);
  }

  @Get(`${PATH}/history`)
  @ApiOperation({ summary: 'The revisions of a config, newest first' })
  @ApiOkResponse({ type: HistoryDto, description: 'revisions, with who wrote them, and a digest of each content' })
  @ApiErrors({ 400: BAD_PATH, 404: 'no config of this name was ever written', 503: true })
  history(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string, @Query() q: HistoryQueryDto) {
    return this.configs.history(ns, group, name, q);
  }

  @Get(`${PATH}/history/:revision`)
  @ApiOperation({ summary: 'A config as written in one revision' })
  @ApiResponse({
    status: 200,
    type: ConfigDto,
    description: 'the config at that revision',
    headers: { ETag: { description: 'that revision\'s version, quoted (as If-Match it only matches while it is still the current version)', schema: { type: 'string', example: '"3"' } } },
  })
  @ApiErrors({ 400: 'a bad path, or the revision is a deletion', 404: 'no such revision', 503: true })
  revision(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string, @Param('revision') revision: string) {
    return this.configs.revision(ns, group, name, Number(revision));
  }

  @Get(`${PATH}/diff`)
  @ApiOperation({ summary: 'A unified diff of the content between two revisions' })
  @ApiOkResponse({ type: DiffDto, description: 'the diff' })
  @ApiErrors({ 400: 'a bad path or query, or a revision that is a deletion', 404: 'no such revision', 503: true })
  diff(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string, @Query() q: DiffQueryDto) {
    return this.configs.diff(ns, group, name, q.from, q.to);
  }

  @Post(`${PATH}/rollback`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Restore a revision\'s content for everyone, as a new revision (drops a gray release; restores a deleted config)' })
  @ApiWriteHeaders({ ifMatch: true })
  @ApiResourceResponse(200, ConfigDto, 'the config as stored')
  @ApiErrors({ 400: 'a bad path or body, or a revision that is a deletion', 404: 'no such revision', 412: true, 413: true, 415: true, 503: true })
  rollback(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string, @Body() body: RollbackDto, @WriteCtx() ctx: WriteContext) {
    return this.configs.rollback(ns, group, name, body.revision, ctx);
  }

  @Put(`${PATH}/gray`)
  @ApiOperation({ summary: 'Start, change or step a gray release: candidate content and a target (labels, percent, or both)' })
  @ApiWriteHeaders({ ifMatch: true })
  @ApiResourceResponse(200, ConfigDto, 'the config as stored; raising the percentage with the same content keeps every instance on its revision')
  @ApiErrors({ 400: BAD_PATH, 404: NO_CONFIG, 412: true, 413: 'the candidate is over 1 MiB', 415: true, 503: true })
  setGray(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string, @Body() body: ConfigGrayDto, @WriteCtx() ctx: WriteContext) {
    return this.configs.setGray(ns, group, name, body, ctx);
  }

  @Post(`${PATH}/gray/promote`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Make the gray candidate the content for everyone' })
  @ApiWriteHeaders({ ifMatch: true })
  @ApiResourceResponse(200, ConfigDto, 'the config as stored')
  @ApiErrors({ 400: BAD_PATH, 404: NO_CONFIG, 409: NO_GRAY, 412: true, 503: true })
  promote(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string, @WriteCtx() ctx: WriteContext) {
    return this.configs.promote(ns, group, name, ctx);
  }

  @Delete(`${PATH}/gray`)
  @ApiOperation({ summary: 'Abort the gray release: its instances go back to the current content' })
  @ApiWriteHeaders({ ifMatch: true })
  @ApiResourceResponse(200, ConfigDto, 'the config as stored')
  @ApiErrors({ 400: BAD_PATH, 404: NO_CONFIG, 409: NO_GRAY, 412: true, 503: true })
  abort(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string, @WriteCtx() ctx: WriteContext) {
    return this.configs.abort(ns, group, name, ctx);
  }

  @Get(`${PATH}/instances`)
  @ApiOperation({ summary: 'The instances watching a config (on every replica): what each was sent and what it applied' })
  @ApiOkResponse({ type: InstancesDto, description: 'instances, by id' })
  @ApiErrors({ 400: BAD_PATH, 404: NO_CONFIG, 503: true })
  instances(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string) {
    return this.configs.instances(ns, group, name);
  }

  @Post(`${PATH}/ack`)
  @HttpCode(200)
  @ApiOperation({ summary: 'An instance says it applied a revision (or could not, with error)' })
  @ApiOkResponse({ type: AckResultDto, description: 'recorded (on the instances board, not in the change log)' })
  @ApiErrors({ 400: 'a bad path or body, or a revision the config does not have yet', 404: NO_CONFIG, 413: true, 415: true, 503: true })
  ack(@Param('namespace') ns: string, @Param('group') group: string, @Param('name') name: string, @Body() body: AckDto) {
    return this.configs.ack(ns, group, name, body);
  }
}

/** Watching configs over HTTP: a long poll, and the same as server-sent events. */
@ApiTags('configs')
@Controller('api/v1/configs')
export class ConfigWatchController {
  constructor(private readonly watch: ConfigWatchService) {}

  @Get('watch')
  @ApiOperation({ summary: 'Long poll: answers at once with what differs from `known`, else at the first change, else after timeoutMs with no updates' })
  @ApiOkResponse({ type: WatchResultDto, description: 'the configs the instance should now hold (deleted ones flagged)' })
  @ApiErrors({ 400: 'a bad query parameter (namespace, group, names, labels, known)' })
  longPoll(@Query() q: WatchQueryDto, @Res() res: Response) {
    return this.watch.longPoll(q, res);
  }

  @Get('stream')
  @ApiOperation({ summary: 'Server-sent events: a `config` event per update; each event id is what the client then holds (Last-Event-ID resumes)' })
  @ApiOkResponse({
    description: 'an event stream (it does not end by itself): a `config` event per update, whose data is a ConfigUpdate as JSON; a `synced` event after the initial state; comments as keep-alives',
    content: { 'text/event-stream': { schema: { type: 'string', example: 'id: app.yaml=3\nevent: config\ndata: {"namespace":"prod","group":"orders","name":"app.yaml","revision":3,…}\n\n' } } },
  })
  @ApiErrors({ 400: 'a bad query parameter or Last-Event-ID' })
  stream(@Query() q: WatchQueryDto, @Req() req: Request, @Res() res: Response) {
    return this.watch.stream(q, req, res);
  }
}
