import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { badRequestViolations } from '../../src/common/grpc-errors.js';
import { structToJson } from '../../src/registry/grpc/struct.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoEndpoint, echoRoute, echoService, retryPolicy } from '../support/fixtures.js';
import { registryClient, struct, unary } from '../support/grpc.js';

const pb = (r: { kind: string; name: string; labels?: Record<string, string>; spec: Record<string, unknown>; service?: string }) => ({
  kind: r.kind,
  name: r.name,
  service: r.service ?? '',
  labels: r.labels ?? {},
  spec: struct(r.spec),
});

describe('management gRPC API (real client, same rules as REST)', () => {
  let app: TestApp;
  let client: any;
  before(async () => {
    app = await startTestApp('postgres');
    client = registryClient(app.grpcPort, 'grpc-tester');
  });
  after(async () => {
    client?.close();
    await app?.stop();
  });

  const code = (c: grpc.status) => (e: grpc.ServiceError) => e.code === c;

  it('creates, gets, lists, updates and deletes; REST sees the same data', async () => {
    const created = await unary(client, 'Create', { resource: pb(echoService()) });
    assert.equal(created.version, 1);
    assert.equal(structToJson(created.spec)!.port, 50051);
    const rest = await app.http('GET', '/api/v1/services/echo');
    assert.equal(rest.body.version, 1);
    assert.deepEqual(rest.body.spec, structToJson(created.spec));

    const ep = echoEndpoint('', 'v1');
    const gen = await unary(client, 'Create', { resource: { ...pb(ep), name: '' } });
    assert.match(gen.name, /^echo-[0-9a-f]{8}$/);
    assert.equal(gen.service, 'echo');

    const got = await unary(client, 'Get', { key: { kind: 'Endpoint', name: gen.name, service: 'echo' } });
    assert.equal(got.name, gen.name);
    const list = await unary(client, 'List', { kind: 'Endpoint', service: 'echo', labelSelector: 'version=v1' });
    assert.deepEqual(list.items.map((i: any) => i.name), [gen.name]);

    const updated = await unary(client, 'Update', { resource: pb(echoService({ port: 8080 })), expectedVersion: 1 });
    assert.equal(updated.version, 2);
    const stale = unary(client, 'Update', { resource: pb(echoService({ port: 8081 })), expectedVersion: 1 });
    await assert.rejects(stale, code(grpc.status.FAILED_PRECONDITION));

    const del = await unary(client, 'Delete', { key: { kind: 'Service', name: 'echo' } });
    assert.deepEqual(del.deleted.map((r: any) => r.kind).sort(), ['Endpoint', 'Service']);
    await assert.rejects(unary(client, 'Get', { key: { kind: 'Service', name: 'echo' } }), code(grpc.status.NOT_FOUND));

    const changes = await unary(client, 'ListChanges', { since: 0, limit: 100 });
    assert.ok(changes.changes.length >= 5);
    assert.ok(changes.changes.every((c: any) => c.actor === 'grpc-tester'));
    assert.equal(changes.revision, changes.changes.at(-1).revision);
  });

  it('maps errors: INVALID_ARGUMENT with BadRequest field violations, ALREADY_EXISTS, FAILED_PRECONDITION', async () => {
    const bad = { ...pb(echoService()), spec: struct({ protocol: 'udp', port: 0, extra: true }) };
    const err = await unary(client, 'Create', { resource: bad }).catch((e) => e);
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    const fields = badRequestViolations(err).map((v) => v.field).sort();
    assert.deepEqual(fields, ['spec.extra', 'spec.port', 'spec.protocol']);

    const unknownKind = await unary(client, 'Get', { key: { kind: 'Gadget', name: 'x' } }).catch((e) => e);
    assert.equal(unknownKind.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(badRequestViolations(unknownKind)[0].field, 'key.kind');

    await unary(client, 'Create', { resource: pb(echoService()) });
    await assert.rejects(unary(client, 'Create', { resource: pb(echoService()) }), code(grpc.status.ALREADY_EXISTS));
    await unary(client, 'Create', { resource: pb(echoRoute()) });
    const refd = await unary(client, 'Delete', { key: { kind: 'Service', name: 'echo' } }).catch((e) => e);
    assert.equal(refd.code, grpc.status.FAILED_PRECONDITION);
    assert.match(refd.details, /referenced by Route echo/);
    const cascaded = await unary(client, 'Delete', { key: { kind: 'Service', name: 'echo' }, cascade: true });
    assert.ok(cascaded.deleted.some((r: any) => r.kind === 'Route'));
  });

  it('applies a batch atomically, with dry run', async () => {
    const resources = [pb(retryPolicy()), pb(echoService({ policies: ['echo-retry'] })), pb(echoEndpoint('echo-1', 'v1')), pb(echoRoute())];
    const dry = await unary(client, 'Apply', { resources, dryRun: true });
    assert.equal(dry.dryRun, true);
    await assert.rejects(unary(client, 'Get', { key: { kind: 'Route', name: 'echo' } }), code(grpc.status.NOT_FOUND));
    const res = await unary(client, 'Apply', { resources });
    assert.deepEqual(res.results.map((r: any) => r.result), ['created', 'created', 'created', 'created']);
    const broken = [...resources, { ...pb(echoRoute()), name: 'r2', spec: struct({ hosts: ['x'], rules: [{ backends: [{ service: 'ghost', weight: 1 }] }] }) }];
    const err = await unary(client, 'Apply', { resources: broken }).catch((e) => e);
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(badRequestViolations(err)[0].field, 'resources[4].spec.rules[0].backends[0].service');
    await assert.rejects(unary(client, 'Get', { key: { kind: 'Route', name: 'r2' } }), code(grpc.status.NOT_FOUND));
  });

  it('rollout actions over gRPC: recorded as a change by the caller; a phase that does not allow it is FAILED_PRECONDITION', async () => {
    const rollout = { kind: 'Rollout', name: 'echo-v2', spec: { service: 'echo', stable: 'v1', canary: 'v2', routes: ['echo'], steps: [{ setWeight: 10 }, { pause: {} }] } };
    await unary(client, 'Create', { resource: pb(rollout) });
    await assert.rejects(unary(client, 'RolloutAction', { name: 'echo-v2', action: 'teleport' }), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && badRequestViolations(e)[0].field === 'action');
    await assert.rejects(unary(client, 'RolloutAction', { name: 'echo-v2', action: 'retry' }), code(grpc.status.FAILED_PRECONDITION));
    await assert.rejects(unary(client, 'RolloutAction', { name: 'nope', action: 'abort' }), code(grpc.status.NOT_FOUND));
    const r = await unary(client, 'RolloutAction', { name: 'echo-v2', action: 'abort' });
    assert.equal((structToJson(r.spec) as any).control.action, 'abort');
    const changes = (await app.http('GET', '/api/v1/changes?since=0&limit=1000')).body.changes;
    assert.ok(changes.some((c: any) => c.kind === 'Rollout' && c.name === 'echo-v2' && c.op === 'update' && c.actor === 'grpc-tester'));
  });

  it('serves gRPC server reflection, so grpcurl needs no proto files', async () => {
    const def = protoLoader.loadSync(join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto'), { keepCase: true });
    const Reflection = (grpc.loadPackageDefinition(def) as any).grpc.reflection.v1.ServerReflection;
    const r = new Reflection(`127.0.0.1:${app.grpcPort}`, grpc.credentials.createInsecure());
    const call = r.ServerReflectionInfo();
    const answers: any[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (m: any) => {
        answers.push(m);
        if (answers.length === 2) call.end();
      });
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.write({ list_services: '' });
    call.write({ file_containing_symbol: 'switchyard.v1.Registry' });
    await done;
    r.close();
    assert.ok(answers[0].list_services_response.service.some((s: any) => s.name === 'switchyard.v1.Registry'), JSON.stringify(answers[0]));
    assert.ok(answers[1].file_descriptor_response.file_descriptor_proto.length > 0, 'the descriptor of registry.proto');
  });

  it('counts calls in /metrics by method and code', async () => {
    const text = (await app.http('GET', '/metrics')).text;
    assert.match(text, /switchyard_grpc_requests_total\{method="Create",code="OK"\} \d+/);
    assert.match(text, /switchyard_grpc_requests_total\{method="Create",code="INVALID_ARGUMENT"\} \d+/);
    assert.match(text, /switchyard_http_requests_total\{route="\/metrics",method="GET",status="200"\}|switchyard_grpc_request_duration_seconds_bucket/);
    assert.match(text, /process_cpu_seconds_total/);
  });
});
