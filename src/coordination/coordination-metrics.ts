import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';

/** Why a PrefixMirror listed its prefix again: its watch start revision was compacted away, or the watch failed otherwise. */
export type RelistReason = 'compacted' | 'error';

export const RELIST_REASONS: readonly RelistReason[] = ['compacted', 'error'];

/**
 * Coordination metrics. Coordination sits below observability's users and may
 * not import the app's MetricsService, so the counters here belong to no
 * registry until the app root registers them in the app's own.
 */
@Injectable()
export class CoordinationMetrics {
  /** Full re-lists of a mirrored prefix after its watch failed (the first listing is not one). */
  readonly relists = new Counter<'prefix' | 'reason'>({
    name: 'switchyard_coordination_relists_total',
    help: 'full re-lists of a mirrored coordination prefix after its watch failed, by prefix and reason (compacted: the watch start revision was compacted away; error: any other watch failure)',
    labelNames: ['prefix', 'reason'],
    registers: [],
  });
}
