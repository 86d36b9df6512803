import { Controller, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { WriteCtx } from '../../common/http.js';
import { ApiErrors, ApiResourceResponse, ApiWriteHeaders } from '../../common/openapi.js';
import { ROLLOUT_ACTIONS } from '../../model/resources.js';
import { RolloutDto } from '../dto/index.js';
import { RolloutActions } from '../rollout-actions.js';
import type { WriteContext } from '../registry.service.js';
import { PromoteQueryDto } from './query.dto.js';

/** POST /api/v1/rollouts/:name/{promote,pause,resume,abort,retry}: recorded as a change of the Rollout, carried out by the leader. */
@ApiTags('rollouts')
@Controller('api/v1/rollouts/:name')
export class RolloutActionsController {
  constructor(private readonly rollouts: RolloutActions) {}

  @Post(':action')
  @HttpCode(200)
  @ApiParam({ name: 'name', description: 'Rollout name' })
  @ApiParam({ name: 'action', enum: [...ROLLOUT_ACTIONS] })
  @ApiOperation({ summary: 'Promote (the next step now; ?full=true: straight to the end), pause, resume, abort (back to stable now) or retry a rollout; 409 when its phase does not allow it' })
  @ApiWriteHeaders({ ifMatch: true })
  @ApiResourceResponse(200, RolloutDto, 'the Rollout with the action recorded in spec.control (the leader carries it out)')
  @ApiErrors({ 400: 'an unknown action, a bad full parameter or a malformed If-Match', 404: 'no Rollout of this name', 409: 'the rollout\'s phase does not allow this action (phase)', 412: true, 503: true })
  act(@Param('name') name: string, @Param('action') action: string, @Query() q: PromoteQueryDto, @WriteCtx() ctx: WriteContext) {
    return this.rollouts.act(name, action, { ...ctx, full: q.full });
  }
}
