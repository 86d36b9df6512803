import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { type Browser, chromium, type Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.js';
import { attempt, type EchoBackend, startEchoBackend, tally } from '../support/echo-backends.js';
import { echoService } from '../support/fixtures.js';
import { trackPriorityRetentionTimers } from '../support/priority-timers.js';
import { apply, endpointOf, eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it). Nothing is downloaded. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'dashboard');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The dashboard in a real browser, against a real control plane with a real grpc-js-xds client and a real rollout. */
describe('dashboard at /ui in headless Chromium', () => {
  let app: TestApp;
  let v1: EchoBackend, v2: EchoBackend;
  let client: grpc.Client;
  let browser: Browser;
  let page: Page;
  let running = true;
  let calls: Promise<void>[] = [];
  const pageErrors: string[] = [];
  const retention = trackPriorityRetentionTimers();

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20', ROLLOUT_TICK_MS: '100' });
    [v1, v2] = await Promise.all([startEchoBackend('v1'), startEchoBackend('v2')]);
    const route = { kind: 'Route', name: 'echo', spec: { hosts: ['echo'], rules: [{ backends: [{ service: 'echo', subset: 'v1', weight: 100 }] }] } };
    const check = { kind: 'Policy', name: 'echo-health', spec: { type: 'healthCheck', healthCheck: { protocol: 'grpc', intervalMs: 500, timeoutMs: 300, healthyThreshold: 1, unhealthyThreshold: 2, runBy: 'controlPlane' } } };
    await apply(app, [check, echoService({ policies: ['echo-health'] }), endpointOf('echo', 'v1', v1.port, { labels: { version: 'v1' } }), endpointOf('echo', 'v2', v2.port, { labels: { version: 'v2' } }), route]);
    useXds(app.xdsPort, 'dashboard-client');
    client = xdsClient('echo');
    await eventually(async () => assert.deepEqual(await tally(client, 20), { v1: 20 }));
    // Steady calls, so that load reports feed the rollout's analysis.
    calls = Array.from({ length: 3 }, async () => {
      while (running) {
        await attempt(client);
        await sleep(5);
      }
    });
    await apply(app, [
      {
        kind: 'Rollout',
        name: 'canary',
        spec: {
          service: 'echo',
          stable: 'v1',
          canary: 'v2',
          steps: [{ setWeight: 30 }, { pause: {} }],
          analysis: { intervalSeconds: 1, failureLimit: 3, minRequests: 5, metrics: [{ name: 'successRate', min: 95 }, { name: 'successRateVsStable', maxDropPoints: 5 }] },
        },
      },
    ]);
    // Two analyses with both rates, so the success chart has a line to draw.
    await eventually(async () => {
      const s = (await app.http('GET', '/api/v1/rollouts/canary')).body.status.rollout;
      assert.equal(s?.phase, 'Paused');
      assert.ok((s.timeline ?? []).filter((p: { canarySuccessRate?: number | null }) => typeof p.canarySuccessRate === 'number').length >= 2, JSON.stringify(s.timeline));
    }, 30_000);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
  });

  after(async () => {
    running = false;
    await Promise.all(calls);
    await browser?.close();
    client?.close();
    await app?.stop();
    await Promise.all([v1, v2].map((b) => b?.stop()));
    retention.release();
  });

  const open = async (hash: string) => {
    await page.goto(`http://127.0.0.1:${app.httpPort}/ui/#/${hash}`);
    await page.locator('[data-testid=updated]', { hasText: 'updated' }).waitFor({ timeout: 15_000 });
  };
  const shot = async (name: string) => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
    // UPDATE_SCREENSHOTS=1 refreshes the README's pictures.
    if (process.env.UPDATE_SCREENSHOTS && ['overview', 'rollout'].includes(name)) copyFileSync(join(ARTIFACTS, `${name}.png`), join(process.cwd(), 'docs', 'img', `dashboard-${name}.png`));
  };
  const text = (sel: string) => page.locator(sel).innerText();

  it('is served at /ui (the root redirects there) with hashed assets', async () => {
    const root = await fetch(`http://127.0.0.1:${app.httpPort}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/ui/');
    const html = await (await fetch(`http://127.0.0.1:${app.httpPort}/ui/`)).text();
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, html);
    const js = await fetch(`http://127.0.0.1:${app.httpPort}${asset}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await fetch(`http://127.0.0.1:${app.httpPort}/ui/assets/nope.js`)).status, 404);
  });

  it('overview: counts of services, endpoints by health and proxies; the running rollout; no proxy in trouble', async () => {
    await open('overview');
    assert.equal(await text('[data-testid=count-services]'), '1');
    assert.equal(await text('[data-testid=count-endpoints]'), '2');
    await eventually(async () => assert.equal(await text('[data-testid=count-healthy]'), '2'));
    assert.ok(Number(await text('[data-testid=count-proxies]')) >= 1);
    assert.equal(await text('[data-testid=count-troubled]'), '0');
    assert.match(await text('[data-testid=running-rollouts]'), /canary\s+echo\s+Paused\s+30 %/);
    assert.match(await text('.columns table:not([data-testid])'), /proxyless · proxyless\s+1/);
    await shot('overview');
    await page.click('[data-testid=theme]');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    await shot('overview-dark');
    await page.click('[data-testid=theme]');
  });

  it('services: endpoints with health, the subsets, and the managed route with each backend weight as a bar', async () => {
    await open('services');
    assert.match(await text('table'), /echo\s+grpc\s+50051\s+v1, v2\s+2/);
    await page.click('a[href="#/services/echo"]');
    await page.locator('[data-testid=endpoints]').waitFor();
    // The control plane probes both (gRPC health): each shows healthy, with the probe that made it so.
    await eventually(async () => {
      const eps = await text('[data-testid=endpoints]');
      assert.match(eps, /v1\s+127\.0\.0\.1:\d+\s+version=v1\s+healthy\s+ok: SERVING/);
      assert.match(eps, /v2\s+127\.0\.0\.1:\d+\s+version=v2\s+healthy\s+ok: SERVING/);
    });
    await eventually(async () => {
      const bars = await page.locator('[data-testid=route-echo] [role=meter]').evaluateAll((els) => els.map((e) => `${e.getAttribute('aria-label')}=${e.getAttribute('aria-valuenow')}`));
      assert.deepEqual(bars.sort(), ['echo/v1=70', 'echo/v2=30']);
    });
    await shot('service');
  });

  it('proxies: the grpc-js-xds client with every type ACKed, and a link to its config', async () => {
    await open('proxies');
    const row = page.locator('tr[data-proxy=dashboard-client]');
    await row.waitFor();
    const cells = await row.innerText();
    assert.equal((cells.match(/acked/g) ?? []).length, 4, cells);
    assert.doesNotMatch(cells, /nacked/);
    await shot('proxies');
    await row.locator('a').click();
    await page.locator('[data-testid=proxy-config]', { hasText: 'echo' }).waitFor();
    assert.equal(await nackCount(app), 0);
  });

  it('rollout: the steps with the current one, live charts, and abort moves the phase to Aborted', async () => {
    await open('rollouts/canary');
    assert.equal(await text('[data-testid=phase]'), 'Paused');
    assert.match(await text('[data-testid=steps] li.current'), /pause until promoted/);
    assert.equal(await page.locator('[data-testid=chart-weight] canvas').count(), 1);
    assert.equal(await page.locator('[data-testid=chart-success] canvas').count(), 1);
    const legend = await text('[data-testid=chart-success]');
    assert.match(legend, /canary success/);
    assert.match(legend, /threshold ≥ 95 %/);
    await shot('rollout');
    await page.click('button[data-action=abort]');
    await page
      .locator('[data-testid=phase]', { hasText: 'Aborted' })
      .waitFor({ timeout: 15_000 })
      .catch(async (e) => assert.fail(`${e.message}\n${await text('main')}`));
    const s = (await app.http('GET', '/api/v1/rollouts/canary')).body.status.rollout;
    assert.equal(s.phase, 'Aborted');
    assert.deepEqual(s.weights, { stable: 100, canary: 0 });
    assert.equal(await page.locator('button[data-action=abort]').isDisabled(), true, 'a finished rollout offers no action');
  });

  it('changes: the change log, a change opened as a diff against the version before', async () => {
    await open('changes');
    const rows = await text('[data-testid=changes]');
    assert.match(rows, /create Rollout canary/);
    assert.match(rows, /update Route echo/);
    // The rollout's first route write: 100/0 became 70/30 (the oldest Route update shown).
    await page.locator('[data-testid=changes] tr.clickable', { hasText: 'update Route echo' }).last().click();
    const diff = await page.locator('[data-testid=diff]').innerText();
    assert.match(diff, /^-\s+"weight": 100/m);
    assert.match(diff, /^\+\s+"weight": 70/m);
    assert.match(diff, /^\+\s+"weight": 30/m);
    await shot('changes');
    // Roll back the abort's route write (70/30 → 100/0): the route is 70/30 again, written by the dashboard's rollback.
    const abortWrite = page.locator('[data-testid=changes] tr.clickable', { hasText: 'update Route echo' }).first();
    page.once('dialog', (d) => void d.accept());
    await abortWrite.locator('button[data-action=rollback]').click();
    await page.locator('[data-testid=note]', { hasText: 'Route echo rolled back' }).waitFor();
    const route = (await app.http('GET', '/api/v1/routes/echo')).body;
    assert.deepEqual(
      route.spec.rules.at(-1).backends.map((b: { subset: string; weight: number }) => `${b.subset}=${b.weight}`),
      ['v1=70', 'v2=30'],
    );
    // The page reloads: the rollback's write is the newest change.
    await eventually(async () => assert.match(await page.locator('[data-testid=changes] tr.clickable').first().innerText(), new RegExp(`update Route echo → v${route.version}`)));
    assert.deepEqual(pageErrors, [], 'the pages logged no error');
  });
});
