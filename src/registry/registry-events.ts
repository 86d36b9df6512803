import { EventEmitter } from 'node:events';
import type { SpanContext } from '@opentelemetry/api';
import { Injectable } from '@nestjs/common';
import type { Change } from '../model/resources.js';

/** What one committed write changed: its change-log entries (objects included) and the store revision after it. */
export interface Committed {
  revision: number;
  changes: Change[];
  /** The write's transaction span, when tracing records: the rebuild that applies the write links to it. */
  trace?: SpanContext;
}

/**
 * In-process notifications of committed registry writes, carrying what was
 * written, so the change feed applies them without reading them back.
 */
@Injectable()
export class RegistryEvents extends EventEmitter {
  committed(c: Committed): void {
    this.emit('committed', c);
  }

  onCommitted(fn: (c: Committed) => void): () => void {
    this.on('committed', fn);
    return () => this.off('committed', fn);
  }
}
