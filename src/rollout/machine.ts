import type { HeaderMatch, RolloutAction, RolloutSpec } from '../model/resources.js';
import type { AnalysisResult, RolloutPhase, RolloutState } from '../model/rollout.js';

/** Hooks a rollout may call, and when. */
export type Hook = 'preRollout' | 'confirmPromotion' | 'postRollout' | 'rollback';

/** What the controller must do after a transition, before the new state is stored. */
export type Effect =
  /** Bring the managed routes to the state's weights and header route (and, with promote, to 100 % canary). */
  | { type: 'route'; promote: boolean }
  /** Call a webhook; its result comes back as a `webhook` event (for gating hooks). */
  | { type: 'webhook'; hook: Hook };

/** Something that happened to a rollout. */
export type RolloutEvent =
  | { type: 'tick' }
  | { type: 'analysis'; result: AnalysisResult }
  | { type: 'control'; id: string; action: RolloutAction; full?: boolean }
  | { type: 'webhook'; hook: Hook; ok: boolean; message: string };

/** How long a refused confirmPromotion waits before it is asked again, without an analysis interval. */
const CONFIRM_RETRY_MS = 5000;
const HISTORY = 50;

const iso = (ms: number) => new Date(ms).toISOString();

/** Whether the canary gets any traffic in this state (analysis needs some). */
export const receivesTraffic = (s: RolloutState) => s.weights.canary > 0 || s.headerRoute !== null;

/** Whether a phase is final (nothing happens until retry or a new spec). */
export const isTerminal = (p: RolloutPhase) => p === 'Succeeded' || p === 'Failed' || p === 'Aborted';

/** A new rollout, before its first step. */
export function initialState(spec: RolloutSpec, digest: string, now: number, routes: string[] = spec.routes ?? []): RolloutState {
  return {
    phase: 'Pending',
    step: 0,
    stepStartedAt: iso(now),
    weights: { stable: 100, canary: 0 },
    headerRoute: null,
    routes,
    routedAt: iso(now),
    consecutiveFailures: 0,
    message: spec.webhooks?.preRollout ? 'waiting for the preRollout webhook' : 'starting',
    specDigest: digest,
    startedAt: iso(now),
    history: [{ at: iso(now), from: null, to: 'Pending', step: 0, reason: 'rollout created' }],
  };
}

/**
 * The rollout state machine. Pure: the clock is `now`, and what must happen
 * outside (route writes, webhook calls) is returned as effects. The controller
 * applies the effects, then stores the state, so a restart resumes at the same
 * step.
 */
export function reduce(spec: RolloutSpec, prev: RolloutState, event: RolloutEvent, now: number): { state: RolloutState; effects: Effect[] } {
  const m = new Machine(spec, structuredClone(prev), now);
  m.handle(event);
  m.run();
  record(prev, m.state, now);
  return { state: m.state, effects: m.effects };
}

const TIMELINE = 240;

/** Appends a timeline point when the weights moved or a new analysis was taken. */
function record(prev: RolloutState, s: RolloutState, now: number): void {
  const analysed = s.lastAnalysis !== undefined && s.lastAnalysis.at !== prev.lastAnalysis?.at ? s.lastAnalysis : undefined;
  if (!analysed && s.weights.canary === prev.weights.canary) return;
  const a = analysed;
  const point = a
    ? { at: a.at, canaryWeight: s.weights.canary, canarySuccessRate: a.canarySuccessRate ?? null, stableSuccessRate: a.stableSuccessRate ?? null, result: a.result }
    : { at: iso(now), canaryWeight: s.weights.canary };
  s.timeline = [...(s.timeline ?? []), point].slice(-TIMELINE);
}

class Machine {
  readonly effects: Effect[] = [];

  constructor(
    private readonly spec: RolloutSpec,
    readonly state: RolloutState,
    private readonly now: number,
  ) {}

  handle(e: RolloutEvent): void {
    const s = this.state;
    switch (e.type) {
      case 'tick':
        return this.tick();
      case 'analysis':
        return this.analysis(e.result);
      case 'control':
        s.handled = e.id;
        return this.control(e.action, !!e.full);
      case 'webhook':
        return this.webhook(e.hook, e.ok, e.message);
    }
  }

  private tick(): void {
    const s = this.state;
    if (s.phase === 'Pending' && !s.webhook && !this.spec.webhooks?.preRollout) this.to('Progressing', 'started');
    else if (s.phase === 'Pending' && !s.webhook) this.call('preRollout');
    else if (s.phase === 'RollingBack') {
      const aborted = s.message.startsWith('aborted');
      this.to(aborted ? 'Aborted' : 'Failed', s.message);
      s.finishedAt = iso(this.now);
      if (this.spec.webhooks?.rollback) this.effects.push({ type: 'webhook', hook: 'rollback' });
    } else if (s.phase === 'Promoting' && this.spec.webhooks?.confirmPromotion) {
      const last = s.webhook?.hook === 'confirmPromotion' ? Date.parse(s.webhook.at) : 0;
      const retry = (this.spec.analysis?.intervalSeconds ?? CONFIRM_RETRY_MS / 1000) * 1000;
      if (!s.webhook || (s.webhook.hook === 'confirmPromotion' && !s.webhook.ok && this.now - last >= retry)) this.call('confirmPromotion');
    }
  }

  private analysis(r: AnalysisResult): void {
    const s = this.state;
    if (!['Progressing', 'Paused', 'Promoting'].includes(s.phase)) return;
    s.lastAnalysis = r;
    if (r.result === 'Successful') s.consecutiveFailures = 0;
    if (r.result !== 'Failed') return;
    s.consecutiveFailures++;
    const limit = this.spec.analysis?.failureLimit ?? 1;
    if (s.consecutiveFailures >= limit) this.rollback(`analysis failed ${s.consecutiveFailures} time(s) in a row: ${r.message}`);
    else s.message = `analysis failed (${s.consecutiveFailures} of ${limit} before rolling back): ${r.message}`;
  }

  private control(action: RolloutAction, full: boolean): void {
    const s = this.state;
    const ignore = (): void => void (s.message = `${action} ignored: the rollout is ${s.phase}`);
    switch (action) {
      case 'promote':
        if (s.phase !== 'Progressing' && s.phase !== 'Paused') return ignore();
        if (full) s.step = this.spec.steps.length;
        else if (s.phase === 'Paused' && s.manualPause && !this.spec.steps[s.step]?.pause) {
          /* a hand pause on a non-pause step: promote just continues */
        } else if (this.spec.steps[s.step]?.pause) this.nextStep();
        s.manualPause = false;
        if (s.phase === 'Paused') this.to('Progressing', full ? 'promoted to the end by hand' : 'promoted by hand');
        else s.message = full ? 'promoted to the end by hand' : 'promoted by hand';
        return;
      case 'pause':
        if (s.phase !== 'Progressing') return ignore();
        s.manualPause = true;
        return this.to('Paused', 'paused by hand');
      case 'resume':
        if (s.phase !== 'Paused') return ignore();
        if (!s.manualPause && this.spec.steps[s.step]?.pause) this.nextStep();
        s.manualPause = false;
        return this.to('Progressing', 'resumed by hand');
      case 'abort':
        if (isTerminal(s.phase) || s.phase === 'RollingBack') return ignore();
        return this.rollback('aborted by hand');
      case 'retry': {
        if (s.phase !== 'Failed' && s.phase !== 'Aborted') return ignore();
        const fresh = initialState(this.spec, s.specDigest, this.now, s.routes);
        Object.assign(s, { ...fresh, handled: s.handled, history: s.history });
        return this.to('Pending', 'retried by hand');
      }
    }
  }

  private webhook(hook: Hook, ok: boolean, message: string): void {
    const s = this.state;
    s.webhook = { hook, at: iso(this.now), ok, message };
    if (hook === 'preRollout' && s.phase === 'Pending') {
      if (ok) this.to('Progressing', 'preRollout webhook passed');
      else {
        this.to('Failed', `preRollout webhook refused: ${message}`);
        s.finishedAt = iso(this.now);
      }
    } else if (hook === 'confirmPromotion' && s.phase === 'Promoting') {
      if (ok) this.finish();
      else s.message = `waiting for confirmPromotion: ${message}`;
    }
  }

  /** Runs steps while nothing holds the rollout. */
  run(): void {
    const s = this.state;
    for (let guard = 0; s.phase === 'Progressing' && guard <= this.spec.steps.length; guard++) {
      if (s.step >= this.spec.steps.length) return this.promoting();
      const step = this.spec.steps[s.step];
      if (step.setWeight !== undefined) {
        s.weights = { stable: 100 - step.setWeight, canary: step.setWeight };
        this.routeChanged();
        this.nextStep();
      } else if (step.setHeaderRoute) {
        s.headerRoute = step.setHeaderRoute;
        this.routeChanged();
        this.nextStep();
      } else if (step.pause?.seconds === undefined) {
        s.manualPause = false;
        return this.to('Paused', `step ${s.step}: paused until promoted`);
      } else {
        const left = Date.parse(s.stepStartedAt) + step.pause.seconds * 1000 - this.now;
        const gate = this.gate();
        if (left <= 0 && gate === true) this.nextStep();
        else return void (s.message = left > 0 ? `step ${s.step}: pausing ${Math.ceil(left / 1000)} s more` : `step ${s.step}: ${gate}`);
      }
    }
  }

  /** An analysed pause ends only after an analysis of this step passed; true, or why it holds. */
  private gate(): true | string {
    const s = this.state;
    if (!this.spec.analysis || !receivesTraffic(s)) return true;
    const a = s.lastAnalysis;
    if (a && Date.parse(a.at) >= Date.parse(s.stepStartedAt) && a.result === 'Successful') return true;
    return a && Date.parse(a.at) >= Date.parse(s.stepStartedAt) ? `holding: the last analysis was ${a.result.toLowerCase()} (${a.message})` : 'holding: waiting for an analysis of this step';
  }

  private promoting(): void {
    this.to('Promoting', 'every step done');
    if (this.spec.webhooks?.confirmPromotion) this.call('confirmPromotion');
    else this.finish();
  }

  private finish(): void {
    const s = this.state;
    const promote = (this.spec.onSuccess ?? 'promote') === 'promote';
    if (promote) {
      s.weights = { stable: 0, canary: 100 };
      s.promoted = this.spec.canary;
    }
    s.headerRoute = null;
    s.routedAt = iso(this.now);
    // One write: a last setWeight in the same run is part of this one.
    for (let i = this.effects.length - 1; i >= 0; i--) if (this.effects[i].type === 'route') this.effects.splice(i, 1);
    this.effects.push({ type: 'route', promote });
    this.to('Succeeded', promote ? `promoted: ${this.spec.canary} is the stable subset` : 'done: the last weights stay');
    s.finishedAt = iso(this.now);
    if (this.spec.webhooks?.postRollout) this.effects.push({ type: 'webhook', hook: 'postRollout' });
  }

  private rollback(reason: string): void {
    const s = this.state;
    s.weights = { stable: 100, canary: 0 };
    s.headerRoute = null;
    this.routeChanged();
    this.to('RollingBack', reason);
  }

  private call(hook: Hook): void {
    this.state.webhook = { hook, at: iso(this.now), ok: false, message: 'called' };
    this.effects.push({ type: 'webhook', hook });
  }

  private routeChanged(): void {
    this.state.routedAt = iso(this.now);
    if (!this.effects.some((e) => e.type === 'route')) this.effects.push({ type: 'route', promote: false });
  }

  private nextStep(): void {
    this.state.step++;
    this.state.stepStartedAt = iso(this.now);
  }

  private to(phase: RolloutPhase, reason: string): void {
    const s = this.state;
    if (s.phase !== phase) {
      s.history.push({ at: iso(this.now), from: s.phase, to: phase, step: s.step, reason });
      if (s.history.length > HISTORY) s.history.splice(0, s.history.length - HISTORY);
    }
    s.phase = phase;
    s.message = reason;
  }
}

/** The header route a rollout adds, as a rule of the managed routes. */
export const headerRuleName = (rollout: string) => `rollout-${rollout}`.slice(0, 63).replace(/-+$/, '');

export type { HeaderMatch };
