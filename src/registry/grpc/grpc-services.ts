import { Injectable } from '@nestjs/common';
import type * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';

/** A gRPC service another module serves on the management gRPC port. */
export interface ExtraGrpcService {
  /** Its protos, for server reflection. */
  definition: PackageDefinition;
  service: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

/**
 * Services added to the management gRPC server by modules above the
 * registry (the config centre), so the registry never imports them. Add
 * before application bootstrap (in a constructor or onModuleInit).
 */
@Injectable()
export class GrpcServices {
  private readonly services: ExtraGrpcService[] = [];

  add(s: ExtraGrpcService): void {
    this.services.push(s);
  }

  all(): readonly ExtraGrpcService[] {
    return this.services;
  }
}
