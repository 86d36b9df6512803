import { Module } from '@nestjs/common';
import { HealthBoard } from './health-board.js';

/** The shared view of active-check results (read by the xDS builder, written by the checker). */
@Module({ providers: [HealthBoard], exports: [HealthBoard] })
export class HealthBoardModule {}
