import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module.js';
import { ChangeFeed } from './change-feed.js';
import { StatusWriter } from './status-writer.js';

/** The change feed (registry log, etcd, heartbeats, health) and the status writer: what every downstream consumer follows. */
@Module({
  imports: [RegistryModule],
  providers: [ChangeFeed, StatusWriter],
  exports: [ChangeFeed, StatusWriter],
})
export class FeedModule {}
