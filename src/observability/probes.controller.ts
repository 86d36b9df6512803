import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiProperty, ApiServiceUnavailableResponse, ApiTags, type SchemaObject } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Replica } from '../coordination/coordination.module.js';
import { Database } from '../database/database.js';
import { MetricsService } from './metrics.service.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../common/paths.js';

const VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

class VersionDto {
  @ApiProperty({ example: '0.1.0', description: 'Switchyard version' }) version!: string;
  @ApiProperty({ example: 'v20.19.0', description: 'Node.js version' }) node!: string;
}

const indicators = (nullable: boolean): SchemaObject => ({
  type: 'object',
  nullable,
  additionalProperties: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['up', 'degraded', 'down'] } }, additionalProperties: true },
});

/** A failed check: terminus' result, with the statusCode and message every error body has. */
const CHECK_FAILED = ApiServiceUnavailableResponse({
  description: 'terminus\' result (details per indicator) plus statusCode and message',
  schema: {
    type: 'object',
    properties: {
      status: { type: 'string', enum: ['error', 'shutting_down'] },
      info: indicators(true),
      error: indicators(true),
      details: indicators(false),
      statusCode: { type: 'integer', example: 503 },
      message: { type: 'string' },
    },
  },
});

/** Liveness, readiness and Prometheus metrics. */
@ApiTags('operations')
@Controller()
export class ProbesController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    @Inject(Database) private readonly db: Database,
    private readonly metrics: MetricsService,
    private readonly replica: Replica,
  ) {}

  /** Liveness: the process is up and serving HTTP. */
  @Get('health')
  @ApiOperation({ summary: 'Liveness: the process is up and serving HTTP' })
  @CHECK_FAILED
  @HealthCheck()
  live() {
    return this.health.check([() => this.indicator.check('process').up({ pid: process.pid, uptimeSeconds: Math.round(process.uptime()) })]);
  }

  /**
   * Readiness: the database answers and every migration is applied. Coordination
   * (etcd) being unreachable only degrades readiness: config keeps being served.
   */
  @Get('ready')
  @ApiOperation({ summary: 'Readiness: the database answers and every migration is applied (coordination unreachable only degrades it)' })
  @CHECK_FAILED
  @HealthCheck()
  ready() {
    return this.health.check([
      // Only with an embedded database on disk: a full or read-only data directory fails writes, not reads or xDS.
      async () => {
        const session = this.indicator.check('storage');
        const s = await this.db.storage().catch((e: Error) => ({ problem: 'unknown', message: e.message }));
        if (!s) return session.up({ embedded: false });
        if (!s.problem) return session.up({ ...s });
        return session.degraded({ ...s, message: `the embedded database's data directory is ${s.problem}: writes fail, the last config keeps being served` });
      },
      () => this.indicator.check('database').attempt(async () => {
        await this.db.ping();
        return { embedded: this.db.isEmbedded };
      }).withTimeout(3000),
      () => this.indicator.check('migrations').attempt(async () => {
        const pending = await this.db.pendingMigrations();
        if (pending.length) throw new Error(`pending migrations: ${pending.join(', ')}`);
        return { pending: 0 };
      }).withTimeout(3000),
      async () => {
        const session = this.indicator.check('coordination');
        const about = {
          backend: this.replica.coordination.kind,
          replica: this.replica.id,
          leader: this.replica.election.leader()?.id ?? null,
          isLeader: this.replica.election.isLeader,
        };
        try {
          await this.replica.coordination.ping(2000);
          return session.up(about);
        } catch (e) {
          return session.degraded({ ...about, message: `coordination unreachable, serving the last known config: ${(e as Error).message}` });
        }
      },
    ]);
  }

  /** Server version, for `switchyard version`. */
  @Get('api/v1/version')
  @ApiOperation({ summary: 'Server version, for `switchyard version`' })
  @ApiOkResponse({ type: VersionDto, description: 'the versions' })
  version() {
    return { version: VERSION, node: process.version };
  }

  @Get('metrics')
  @ApiExcludeEndpoint()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape() {
    return this.metrics.text();
  }
}
