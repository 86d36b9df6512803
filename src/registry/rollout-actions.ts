import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Conflict, ValidationFailed } from '../common/errors.js';
import { ROLLOUT_ACTIONS, type Resource, type RolloutAction } from '../model/resources.js';
import { ACTIVE_PHASES, type RolloutPhase, type RolloutState } from '../model/rollout.js';
import { RegistryService, type WriteContext } from './registry.service.js';

/** The phases each action applies in. */
const ALLOWED: Record<RolloutAction, readonly RolloutPhase[]> = {
  promote: ['Progressing', 'Paused'],
  pause: ['Progressing'],
  resume: ['Paused'],
  abort: ACTIVE_PHASES.filter((p) => p !== 'RollingBack'),
  retry: ['Failed', 'Aborted'],
};

/**
 * Rollout actions (promote, pause, resume, abort, retry). An action is a
 * registry write of the Rollout's `spec.control`, so it is in the change log
 * with who asked, and reaches the leader's controller through the change feed
 * from any replica.
 */
@Injectable()
export class RolloutActions {
  constructor(private readonly registry: RegistryService) {}

  async act(name: string, action: string, ctx: WriteContext & { full?: boolean }): Promise<Resource> {
    if (!(ROLLOUT_ACTIONS as readonly string[]).includes(action)) throw new ValidationFailed([{ field: 'action', message: `must be one of: ${ROLLOUT_ACTIONS.join(', ')}` }]);
    const key = { kind: 'Rollout' as const, scope: '', name };
    const current = await this.registry.get(key);
    const phase = (current.status.rollout as RolloutState | undefined)?.phase ?? 'Pending';
    if (!ALLOWED[action as RolloutAction].includes(phase))
      throw new Conflict(`cannot ${action} Rollout ${name}: it is ${phase} (${action} applies when ${ALLOWED[action as RolloutAction].join(' or ')})`, { phase });
    const control = { id: randomUUID(), action, ...(ctx.full ? { full: true } : {}) };
    return this.registry.patch(key, { spec: { control } }, { actor: ctx.actor, comment: ctx.comment, ...(ctx.ifMatch ? { ifMatch: ctx.ifMatch } : {}) });
  }
}
