import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RolloutSpec } from '../../src/model/resources.js';
import type { AnalysisResult, RolloutState } from '../../src/model/rollout.js';
import { analyse } from '../../src/rollout/analysis.js';
import { type Effect, initialState, reduce, type RolloutEvent } from '../../src/rollout/machine.js';
import { managedRules } from '../../src/rollout/routing.js';

/** The README's example, with a clock the test moves. */
const SPEC: RolloutSpec = {
  service: 'echo',
  stable: 'v1',
  canary: 'v2',
  steps: [
    { setHeaderRoute: { name: 'x-canary', exact: 'true' } },
    { pause: { seconds: 30 } },
    { setWeight: 10 },
    { pause: { seconds: 60 } },
    { setWeight: 50 },
    { pause: {} },
    { setWeight: 100 },
  ],
  analysis: { intervalSeconds: 10, failureLimit: 2, minRequests: 50, metrics: [{ name: 'successRate', min: 99 }] },
};

/** Drives one rollout through events at given times, keeping the state as JSON between steps (as the store does). */
function driver(spec: RolloutSpec, start = 0) {
  let now = start;
  let state: RolloutState = initialState(spec, 'd1', now);
  const effects: Effect[] = [];
  const send = (e: RolloutEvent) => {
    const out = reduce(spec, JSON.parse(JSON.stringify(state)), e, now);
    state = out.state;
    effects.push(...out.effects);
    return out.effects;
  };
  return {
    get state() {
      return state;
    },
    effects,
    at(ms: number) {
      now = ms;
      return this;
    },
    tick: () => send({ type: 'tick' }),
    send,
    analysis: (result: AnalysisResult['result'], message: string = result) => send({ type: 'analysis', result: { at: new Date(now).toISOString(), result, canaryRequests: 100, stableRequests: 900, metrics: [], message } }),
  };
}

describe('rollout state machine (injected clock)', () => {
  it('keeps a timeline: one point per weight change and per analysis, with both success rates', () => {
    const spec: RolloutSpec = { ...SPEC, steps: [{ setWeight: 20 }, { pause: { seconds: 10 } }, { setWeight: 60 }, { pause: {} }] };
    const d = driver(spec);
    d.tick();
    assert.deepEqual(d.state.timeline, [{ at: new Date(0).toISOString(), canaryWeight: 20 }]);
    d.at(5_000).tick();
    assert.equal(d.state.timeline?.length, 1, 'a tick that moves nothing adds no point');
    const c = { succeeded: 95, errored: 5 };
    const st = { succeeded: 899, errored: 1 };
    d.at(10_000).send({ type: 'analysis', result: analyse(spec.analysis!, c, st, {}, new Date(10_000).toISOString()) });
    const [, analysed, moved] = d.state.timeline!;
    assert.deepEqual(analysed, { at: new Date(10_000).toISOString(), canaryWeight: 20, canarySuccessRate: 95, stableSuccessRate: 99.89, result: 'Failed' });
    assert.equal(moved, undefined, 'the failed analysis did not advance the step');
    d.at(20_000).analysis('Successful');
    assert.deepEqual(d.state.timeline!.map((p) => p.canaryWeight), [20, 20, 60]);
  });

  it('walks every step: header route, timed pauses gated by analysis, a manual pause, then promotion', () => {
    const d = driver(SPEC);
    assert.equal(d.state.phase, 'Pending');
    assert.deepEqual(d.tick(), [{ type: 'route', promote: false }], 'the header route goes in at once');
    assert.equal(d.state.phase, 'Progressing');
    assert.deepEqual(d.state.headerRoute, { name: 'x-canary', exact: 'true' });
    assert.equal(d.state.step, 1);
    d.at(29_000).tick();
    assert.equal(d.state.step, 1, 'the 30 s pause holds');
    d.at(30_000).tick();
    assert.equal(d.state.step, 1, 'time is up, but no analysis of this step passed yet');
    assert.match(d.state.message, /waiting for an analysis/);
    d.at(31_000).analysis('Inconclusive', 'too few requests');
    assert.equal(d.state.step, 1, 'inconclusive is not success');
    assert.match(d.state.message, /inconclusive/);
    d.at(41_000).analysis('Successful');
    assert.equal(d.state.step, 3, 'advanced: setWeight 10 applied');
    assert.deepEqual(d.state.weights, { stable: 90, canary: 10 });
    d.at(101_000).analysis('Successful');
    assert.equal(d.state.step, 5);
    assert.deepEqual(d.state.weights, { stable: 50, canary: 50 });
    assert.equal(d.state.phase, 'Paused', 'pause {} waits for a person');
    d.at(500_000).tick();
    assert.equal(d.state.phase, 'Paused');
    d.send({ type: 'control', id: 'c1', action: 'promote' });
    assert.equal(d.state.handled, 'c1');
    assert.equal(d.state.phase, 'Succeeded');
    assert.deepEqual(d.state.weights, { stable: 0, canary: 100 });
    assert.equal(d.state.headerRoute, null);
    assert.equal(d.state.promoted, 'v2');
    assert.deepEqual(d.effects.at(-1), { type: 'route', promote: true });
    assert.deepEqual(d.state.history.map((h) => h.to), ['Pending', 'Progressing', 'Paused', 'Progressing', 'Promoting', 'Succeeded']);
  });

  it('rolls back after failureLimit failed checks in a row; a success in between resets the count', () => {
    const d = driver({ ...SPEC, steps: [{ setWeight: 20 }, { pause: { seconds: 600 } }] });
    d.tick();
    d.at(10_000).analysis('Failed', 'successRate 79.8 (wanted ≥ 99 %)');
    assert.equal(d.state.consecutiveFailures, 1);
    assert.equal(d.state.phase, 'Progressing');
    d.at(20_000).analysis('Successful');
    assert.equal(d.state.consecutiveFailures, 0);
    d.at(30_000).analysis('Failed', 'successRate 80.1 (wanted ≥ 99 %)');
    const fx = d.at(40_000).analysis('Failed', 'successRate 79.5 (wanted ≥ 99 %)');
    assert.deepEqual(fx, [{ type: 'route', promote: false }], 'one write: canary to 0 and no header route');
    assert.equal(d.state.phase, 'RollingBack');
    assert.deepEqual(d.state.weights, { stable: 100, canary: 0 });
    d.at(40_500).tick();
    assert.equal(d.state.phase, 'Failed');
    assert.match(d.state.message, /analysis failed 2 time\(s\) in a row: successRate 79.5/);
    d.at(99_000).analysis('Failed');
    assert.equal(d.state.phase, 'Failed', 'nothing happens after the end');
  });

  it('pause, resume, promote --full, abort and retry by hand', () => {
    const d = driver({ ...SPEC, analysis: undefined });
    d.tick();
    d.send({ type: 'control', id: 'p', action: 'pause' });
    assert.equal(d.state.phase, 'Paused');
    d.at(100_000).tick();
    assert.equal(d.state.step, 1, 'a hand pause holds even past a timed pause');
    d.send({ type: 'control', id: 'r', action: 'resume' });
    assert.equal(d.state.step, 3, 'resumed: the 30 s pause had passed');
    d.send({ type: 'control', id: 'a', action: 'abort' });
    assert.equal(d.state.phase, 'RollingBack');
    d.tick();
    assert.equal(d.state.phase, 'Aborted');
    assert.deepEqual(d.state.weights, { stable: 100, canary: 0 });
    d.send({ type: 'control', id: 'x', action: 'promote' });
    assert.match(d.state.message, /promote ignored: the rollout is Aborted/);
    d.send({ type: 'control', id: 'again', action: 'retry' });
    assert.equal(d.state.phase, 'Pending');
    d.tick();
    assert.equal(d.state.step, 1);
    d.send({ type: 'control', id: 'f', action: 'promote', full: true });
    assert.equal(d.state.phase, 'Succeeded');
    assert.deepEqual(d.state.weights, { stable: 0, canary: 100 });
  });

  it('webhooks gate: a refused preRollout fails before any traffic moves; a refused confirmPromotion holds and is asked again', () => {
    const spec: RolloutSpec = { ...SPEC, steps: [{ setWeight: 50 }], analysis: undefined, webhooks: { preRollout: { url: 'http://h/pre' }, confirmPromotion: { url: 'http://h/ok' } } };
    const refused = driver(spec);
    assert.deepEqual(refused.tick(), [{ type: 'webhook', hook: 'preRollout' }]);
    assert.deepEqual(refused.tick(), [], 'not asked twice while in flight');
    refused.send({ type: 'webhook', hook: 'preRollout', ok: false, message: 'HTTP 503' });
    assert.equal(refused.state.phase, 'Failed');
    assert.ok(!refused.effects.some((e) => e.type === 'route'), 'no route was written');

    const d = driver(spec);
    d.tick();
    const fx = d.send({ type: 'webhook', hook: 'preRollout', ok: true, message: 'HTTP 200' });
    assert.deepEqual(fx, [{ type: 'route', promote: false }, { type: 'webhook', hook: 'confirmPromotion' }]);
    assert.equal(d.state.phase, 'Promoting');
    d.send({ type: 'webhook', hook: 'confirmPromotion', ok: false, message: 'HTTP 403' });
    assert.equal(d.state.phase, 'Promoting');
    assert.deepEqual(d.at(1000).tick(), [], 'asked again only after the retry interval');
    assert.deepEqual(d.at(6000).tick(), [{ type: 'webhook', hook: 'confirmPromotion' }]);
    d.send({ type: 'webhook', hook: 'confirmPromotion', ok: true, message: 'HTTP 200' });
    assert.equal(d.state.phase, 'Succeeded');
  });

  it('onSuccess keep ends at the last weights, without the header route', () => {
    const d = driver({ ...SPEC, onSuccess: 'keep', analysis: undefined, steps: [{ setHeaderRoute: { name: 'x-t', present: true } }, { setWeight: 30 }] });
    d.tick();
    assert.equal(d.state.phase, 'Succeeded');
    assert.deepEqual([d.state.weights, d.state.headerRoute, d.state.promoted], [{ stable: 70, canary: 30 }, null, undefined]);
  });
});

describe('rollout routing (the managed rules for a state)', () => {
  const route = {
    hosts: ['echo'],
    rules: [
      { match: { headers: [{ name: 'x-debug', present: true }] }, backends: [{ service: 'echo', subset: 'v1', weight: 1 }] },
      { backends: [{ service: 'echo', subset: 'v1', weight: 100 }, { service: 'other', weight: 5 }] },
    ],
  };
  it('sets the weights on every rule that sends to the stable subset, and puts the header rule first', () => {
    const rules = managedRules(route, 'echo-v2', SPEC, { weights: { stable: 90, canary: 10 }, headerRoute: { name: 'x-canary', exact: 'true' } }, false);
    assert.deepEqual(rules, [
      { name: 'rollout-echo-v2', match: { headers: [{ name: 'x-canary', exact: 'true' }] }, backends: [{ service: 'echo', subset: 'v2', weight: 100 }] },
      { match: { headers: [{ name: 'x-debug', present: true }] }, backends: [{ service: 'echo', subset: 'v1', weight: 90 }, { service: 'echo', subset: 'v2', weight: 10 }] },
      { backends: [{ service: 'echo', subset: 'v1', weight: 90 }, { service: 'echo', subset: 'v2', weight: 10 }, { service: 'other', weight: 5 }] },
    ]);
    const back = managedRules({ ...route, rules }, 'echo-v2', SPEC, { weights: { stable: 100, canary: 0 }, headerRoute: null }, false);
    assert.equal(back.length, 2, 'the header rule is gone');
    assert.deepEqual(back[1].backends, [{ service: 'echo', subset: 'v1', weight: 100 }, { service: 'echo', subset: 'v2', weight: 0 }, { service: 'other', weight: 5 }]);
    const promoted = managedRules({ ...route, rules }, 'echo-v2', SPEC, { weights: { stable: 0, canary: 100 }, headerRoute: null }, true);
    assert.deepEqual(promoted[1].backends, [{ service: 'other', weight: 5 }, { service: 'echo', subset: 'v2', weight: 100 }]);
  });
});

describe('rollout analysis', () => {
  const spec = { intervalSeconds: 10, failureLimit: 2, minRequests: 50, metrics: [{ name: 'successRate', min: 99 }, { name: 'successRateVsStable', maxDropPoints: 1 }, { name: 'latencyP99', maxMs: 500 }] };
  it('quotes the measured numbers; latency without Prometheus is unavailable, not invented', () => {
    const r = analyse(spec, { succeeded: 80, errored: 20 }, { succeeded: 900, errored: 0 }, {}, 'now');
    assert.equal(r.result, 'Failed');
    assert.deepEqual(r.metrics.map((m) => [m.name, m.value, m.result]), [['successRate', 80, 'Failed'], ['successRateVsStable', 20, 'Failed'], ['latencyP99', null, 'Unavailable']]);
    assert.match(r.message, /successRate 80 \(wanted ≥ 99 %\)/);
    const ok = analyse(spec, { succeeded: 100, errored: 0 }, { succeeded: 900, errored: 1 }, { latencyP99: 120 }, 'now');
    assert.equal(ok.result, 'Successful');
  });
  it('too little canary traffic is inconclusive, never a success', () => {
    const r = analyse(spec, { succeeded: 10, errored: 0 }, { succeeded: 90, errored: 0 }, {}, 'now');
    assert.equal(r.result, 'Inconclusive');
    assert.match(r.message, /10 canary request\(s\) in the interval, fewer than minRequests 50/);
  });
});
