import { EventEmitter } from 'node:events';
import { Injectable } from '@nestjs/common';

/** In-process notifications of committed registry writes; the change feed listens. */
@Injectable()
export class RegistryEvents extends EventEmitter {
  /** Announces that at least one change was committed. */
  committed(): void {
    this.emit('committed');
  }
}
