import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module.js';
import { AuditLog } from './audit-log.js';
import { AuditController } from './audit.controller.js';

/** The audit trail: every committed write and authentication failure, stored and shipped as JSON lines. */
@Module({
  imports: [RegistryModule],
  controllers: [AuditController],
  providers: [AuditLog],
  exports: [AuditLog],
})
export class AuditModule {}
