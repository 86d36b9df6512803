import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { stableJson } from '../common/json.js';
import { AppConfig } from '../config/config.js';
import { Replica } from '../coordination/coordination.module.js';
import { ChangeFeed } from '../feed/change-feed.js';
import type { Resource, RolloutSpec, RouteSpec } from '../model/resources.js';
import { ROLLOUT_PHASES, type RolloutState } from '../model/rollout.js';
import { MetricsService } from '../observability/metrics.service.js';
import { RegistryService } from '../registry/registry.service.js';
import { REGISTRY_STORE, type RegistryStore } from '../registry/store/registry-store.js';
import { analyse, type QueryValue } from './analysis.js';
import { LoadBoard } from './load-board.js';
import { type Effect, type Hook, initialState, isTerminal, receivesTraffic, reduce, type RolloutEvent } from './machine.js';
import { fillQuery, promQuery } from './prometheus.js';
import { managedRules, sendsToStable } from './routing.js';
import { callWebhook } from './webhooks.js';

/** The spec a state belongs to: everything but the control field (actions do not start a new rollout). */
const digestOf = (spec: RolloutSpec) => {
  const { control: _c, ...rest } = spec;
  return stableJson(rest);
};

/**
 * The rollout controller. It runs on the leader only: every ROLLOUT_TICK_MS
 * it takes each Rollout through the state machine (machine.ts), runs the
 * analysis when one is due (load reports of the canary and stable clusters from
 * every replica, and Prometheus queries), calls webhooks, writes the routes as
 * ordinary registry changes by `rollout/<name>`, and stores the state in the
 * Rollout's status, so a restart or a new leader resumes at the same step.
 */
@Injectable()
export class RolloutController implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('RolloutController');
  private readonly states = new Map<string, RolloutState>();
  private readonly busy = new Set<string>();
  /** Webhook results waiting to be fed back, per rollout. */
  /** Webhook answers waiting for the next tick, with the run (spec digest and start) they were called for. */
  private readonly pending = new Map<string, { run: string; event: RolloutEvent }[]>();
  private readonly calling = new Set<string>();
  private timer?: NodeJS.Timeout;
  private leading = false;
  private stopped = false;
  private readonly phaseGauge: Gauge<'rollout' | 'phase'>;
  private readonly weightGauge: Gauge<'rollout' | 'subset'>;
  private readonly analyses: Counter<'rollout' | 'result'>;
  private readonly transitions: Counter<'rollout' | 'to'>;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly registry: RegistryService,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly replica: Replica,
    private readonly loads: LoadBoard,
    @Inject(AppConfig) private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    const registers = [metrics.registry];
    this.phaseGauge = new Gauge({ name: 'switchyard_rollout_phase', help: 'each rollout, 1 for its current phase', labelNames: ['rollout', 'phase'], registers });
    this.weightGauge = new Gauge({ name: 'switchyard_rollout_weight', help: 'percent of the managed traffic each subset of a rollout gets', labelNames: ['rollout', 'subset'], registers });
    this.analyses = new Counter({ name: 'switchyard_rollout_analysis_total', help: 'rollout analysis runs by result', labelNames: ['rollout', 'result'], registers });
    this.transitions = new Counter({ name: 'switchyard_rollout_transitions_total', help: 'rollout phase transitions, by the phase entered', labelNames: ['rollout', 'to'], registers });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tickAll(), this.config.ROLLOUT_TICK_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private async tickAll(): Promise<void> {
    if (this.stopped) return;
    if (!this.replica.election.isLeader) {
      // A follower keeps nothing: the next leader reads the stored states.
      if (this.leading) {
        this.states.clear();
        // Only the leader reports rollouts: a follower exports none, rather than stale ones.
        this.phaseGauge.reset();
        this.weightGauge.reset();
      }
      this.leading = false;
      return;
    }
    this.leading = true;
    const rollouts = this.feed.mirror.of<RolloutSpec>('Rollout');
    const names = new Set(rollouts.map((r) => r.name));
    for (const n of this.states.keys()) if (!names.has(n)) this.forget(n);
    for (const r of rollouts) {
      if (this.busy.has(r.name)) continue;
      this.busy.add(r.name);
      void this.tickOne(r)
        .catch((e) => this.log.warn(`rollout ${r.name}: ${(e as Error).message}; retrying`))
        .finally(() => this.busy.delete(r.name));
    }
  }

  private async tickOne(r: Resource<RolloutSpec>): Promise<void> {
    const spec = r.spec;
    const digest = digestOf(spec);
    const now = Date.now();
    let state = this.states.get(r.name) ?? (await this.stored(r.name));
    if (!state || (isTerminal(state.phase) && state.specDigest !== digest)) {
      // A new rollout, or a new spec after the last one ended (the next canary).
      state = initialState(spec, digest, now, this.routesOf(spec));
      if (spec.control) state.handled = spec.control.id; // an old action is not for this rollout
      await this.save(r.name, spec, undefined, state);
    } else if (state.specDigest !== digest) state = { ...state, specDigest: digest };

    // An answer to a call made for an earlier run (a previous spec of this rollout) is not this run's.
    const waiting = this.pending.get(r.name) ?? [];
    this.pending.delete(r.name);
    const events: RolloutEvent[] = waiting.filter((p) => p.run === runOf(state!)).map((p) => p.event);
    if (spec.control && spec.control.id !== state.handled) events.push({ type: 'control', ...spec.control });
    const analysis = await this.analysisDue(r.name, spec, state, now);
    if (analysis) events.push(analysis);
    events.push({ type: 'tick' });
    // A gating webhook marked in flight that this process is not calling (a restart, a new leader): call it again.
    // (Not when its answer is among this tick's events: then it was called, and has answered.)
    if (state.webhook?.message === 'called' && !this.calling.has(r.name) && !events.some((e) => e.type === 'webhook')) this.call(r.name, spec, state, state.webhook.hook as Hook);

    for (const e of events) {
      const before = state;
      const out = reduce(spec, before, e, Date.now());
      await this.apply(r.name, spec, out.state, out.effects);
      state = out.state;
      if (stableJson(state) !== stableJson(before)) await this.save(r.name, spec, before, state);
      if (e.type === 'analysis') this.analyses.inc({ rollout: r.name, result: e.result.result });
    }
    // Every tick, so a new leader (or a restarted one) exports its rollouts before their next transition.
    this.gauges(r.name, spec, state);
  }

  private gauges(name: string, spec: RolloutSpec, state: RolloutState): void {
    for (const p of ROLLOUT_PHASES) this.phaseGauge.set({ rollout: name, phase: p }, p === state.phase ? 1 : 0);
    this.weightGauge.set({ rollout: name, subset: spec.stable }, state.weights.stable);
    this.weightGauge.set({ rollout: name, subset: spec.canary }, state.weights.canary);
  }

  /** Carries out effects; a failed route write throws, so the state is not stored and the tick is retried. */
  private async apply(name: string, spec: RolloutSpec, state: RolloutState, effects: Effect[]): Promise<void> {
    for (const e of effects) {
      if (e.type === 'route') await this.writeRoutes(name, spec, state, e.promote);
      else this.call(name, spec, state, e.hook);
    }
  }

  /** Brings every managed route to the state, in one transaction, as `rollout/<name>`. */
  private async writeRoutes(name: string, spec: RolloutSpec, state: RolloutState, promote: boolean): Promise<void> {
    const docs: unknown[] = [];
    for (const routeName of state.routes) {
      const current = await this.registry.get({ kind: 'Route', scope: '', name: routeName }).catch(() => undefined);
      if (!current) continue;
      const rules = managedRules(current.spec as unknown as RouteSpec, name, spec, state, promote);
      if (stableJson(rules) === stableJson((current.spec as unknown as RouteSpec).rules)) continue;
      docs.push({ kind: 'Route', name: routeName, labels: current.labels, version: current.version, spec: { ...current.spec, rules } });
    }
    if (docs.length) await this.registry.apply(docs, { actor: `rollout/${name}` });
  }

  private call(name: string, spec: RolloutSpec, state: RolloutState, hook: Hook): void {
    const target = spec.webhooks?.[hook];
    if (!target) return;
    const gating = hook === 'preRollout' || hook === 'confirmPromotion';
    if (gating) this.calling.add(name);
    const run = runOf(state);
    const body = { rollout: name, hook, phase: state.phase, step: state.step, weights: state.weights, service: spec.service, stable: spec.stable, canary: spec.canary, message: state.message };
    void callWebhook(target, body, this.config.HEALTH_ALLOW_LINK_LOCAL).then((res) => {
      if (gating) this.calling.delete(name);
      this.log.log(`rollout ${name}: webhook ${hook} ${res.ok ? 'passed' : 'refused'} (${res.message})`);
      const list = this.pending.get(name) ?? [];
      list.push({ run, event: { type: 'webhook', hook, ok: res.ok, message: res.message } });
      this.pending.set(name, list);
    });
  }

  /** The analysis of the last interval, when one is due: the canary has had traffic for a whole interval since the last one. */
  private async analysisDue(name: string, spec: RolloutSpec, state: RolloutState, now: number): Promise<RolloutEvent | undefined> {
    const a = spec.analysis;
    if (!a || !['Progressing', 'Paused', 'Promoting'].includes(state.phase) || !receivesTraffic(state)) return undefined;
    const interval = a.intervalSeconds * 1000;
    const since = Math.max(Date.parse(state.routedAt), state.lastAnalysis ? Date.parse(state.lastAnalysis.at) : 0);
    if (now - since < interval) return undefined;
    const from = now - interval;
    const [canary, stable] = await Promise.all([this.loads.totals(`${spec.service}/${spec.canary}`, from, now), this.loads.totals(`${spec.service}/${spec.stable}`, from, now)]);
    const queries: Record<string, QueryValue> = {};
    const url = a.prometheus?.url ?? this.config.PROMETHEUS_URL;
    for (const m of a.metrics) {
      if (!m.query) continue;
      queries[m.name] = url
        ? await promQuery(url, fillQuery(m.query, { service: spec.service, stable: spec.stable, canary: spec.canary, interval: `${a.intervalSeconds}s`, rollout: name }))
        : { error: 'no Prometheus URL: set analysis.prometheus.url or PROMETHEUS_URL' };
    }
    return { type: 'analysis', result: analyse(a, canary, stable, queries, new Date(now).toISOString()) };
  }

  /** Routes managed when spec.routes is absent: those that send to the stable subset now. */
  private routesOf(spec: RolloutSpec): string[] {
    if (spec.routes?.length) return [...spec.routes];
    return this.feed.mirror
      .of<RouteSpec>('Route')
      .filter((r) => sendsToStable(r.spec, spec))
      .map((r) => r.name)
      .sort();
  }

  /** The state stored in the Rollout's status (read from the database: the mirror does not follow status). */
  private async stored(name: string): Promise<RolloutState | undefined> {
    const r = await this.store.get({ kind: 'Rollout', scope: '', name });
    const s = r?.status.rollout as RolloutState | undefined;
    if (s) this.states.set(name, s);
    return s;
  }

  private async save(name: string, spec: RolloutSpec, before: RolloutState | undefined, state: RolloutState): Promise<void> {
    await this.store.setStatus('rollout', [{ key: { kind: 'Rollout', scope: '', name }, value: state }]);
    this.states.set(name, state);
    for (const t of state.history.slice(before ? before.history.length : 0)) {
      this.transitions.inc({ rollout: name, to: t.to });
      // One JSON log line per transition, for log pipelines.
      this.log.log({ event: 'rollout.transition', rollout: name, service: spec.service, from: t.from, to: t.to, step: t.step, weights: state.weights, reason: t.reason });
    }
    this.gauges(name, spec, state);
  }

  private forget(name: string): void {
    this.states.delete(name);
    this.pending.delete(name);
    for (const p of ROLLOUT_PHASES) this.phaseGauge.remove({ rollout: name, phase: p });
  }
}

/** One run of a rollout: its spec and when it started (a re-applied spec after the end is a new run). */
const runOf = (s: RolloutState) => `${s.specDigest}@${s.startedAt}`;
