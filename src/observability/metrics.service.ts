import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of this process. Each app instance has its own registry,
 * so several instances can run in one process (tests, benchmarks).
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'switchyard_http_requests_total',
    help: 'REST requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'switchyard_http_request_duration_seconds',
    help: 'REST request latency by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** Of those, the ones a fast path answered ahead of Express and Nest (src/registry/rest/fast-paths.ts). */
  readonly httpFastPath = new Counter({
    name: 'switchyard_http_fast_path_requests_total',
    help: 'REST requests answered by a fast path ahead of Express and Nest (heartbeats, registrations), by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  readonly grpcRequests = new Counter({
    name: 'switchyard_grpc_requests_total',
    help: 'Management gRPC calls by method and status code',
    labelNames: ['method', 'code'] as const,
    registers: [this.registry],
  });

  readonly grpcDuration = new Histogram({
    name: 'switchyard_grpc_request_duration_seconds',
    help: 'Management gRPC call latency by method and status code',
    labelNames: ['method', 'code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
