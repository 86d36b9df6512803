import { EventEmitter } from 'node:events';
import { Injectable } from '@nestjs/common';
import type { Change } from '../model/resources.js';

/** What one committed write changed: its change-log entries (objects included) and the store revision after it. */
export interface Committed {
  revision: number;
  changes: Change[];
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
