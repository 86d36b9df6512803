import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../common/paths.js';
import type { ConfigUpdateMessage } from '../model/resources.js';

/** switchyard.v1.ConfigUpdate as plain data. */
export type UpdateMessage = ConfigUpdateMessage;

/** The config centre's protos (proto/switchyard/v1/config.proto) as a proto-loader definition. */
export function configDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(join(PROTO_DIR, 'switchyard/v1/config.proto'), { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] });
}

/** Encodes ConfigUpdate messages, so that the hub serializes each update once and streams write the bytes as they are. */
@Injectable()
export class ConfigCodec {
  readonly definition = configDefinition();
  private readonly service = this.definition['switchyard.v1.Configs'] as grpc.ServiceDefinition;

  encode(msg: UpdateMessage): Buffer {
    return this.service.Watch.responseSerialize(msg);
  }

  /** The marker that ends the initial state of a watch, encoded once. */
  readonly syncedMarker: Buffer = this.encode({ namespace: '', group: '', name: '', revision: 0, format: '', content: '', gray: false, deleted: false, synced: true });

  /**
   * The Configs service definition with Watch writing pre-encoded bytes: the
   * handler writes the Buffer the hub made, and grpc-js frames it unchanged.
   */
  serviceForServer(): grpc.ServiceDefinition {
    return { ...this.service, Watch: { ...this.service.Watch, responseSerialize: (b: Buffer) => b } };
  }
}
