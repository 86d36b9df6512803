import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import { InsufficientStorage, Unavailable } from '../../src/common/errors.js';
import { toGrpcError } from '../../src/common/grpc-errors.js';
import { errorHeaders, toErrorBody } from '../../src/common/http.js';
import { mapDbError } from '../../src/registry/store/typeorm-registry-store.js';

// The errors PostgreSQL (PGlite) gave in test/chaos/disk-faults.test.ts, as the pg driver reports them.
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'ERROR' });

describe('storage faults of the database', () => {
  it('disk full is 507 Insufficient Storage naming the cause, RESOURCE_EXHAUSTED over gRPC', () => {
    const e = mapDbError(pgError('53100', 'could not extend file "base/5/16429_fsm": No space left on device'));
    assert.ok(e instanceof InsufficientStorage);
    const body = toErrorBody(e);
    assert.equal(body.statusCode, 507);
    assert.equal(body.error, 'Insufficient Storage');
    assert.match(body.message, /storage is full .*No space left on device/);
    assert.equal(toGrpcError(e).code, Status.RESOURCE_EXHAUSTED);
  });

  it('a read-only data directory is 503 with Retry-After, naming it', () => {
    const e = mapDbError(pgError('42501', 'could not create file "base/5/16405_fsm": Read-only file system'));
    assert.ok(e instanceof Unavailable);
    const body = toErrorBody(e);
    assert.equal(body.statusCode, 503);
    assert.match(body.message, /storage is read-only/);
    assert.equal(errorHeaders(e, body)['retry-after'], '1');
    assert.ok(mapDbError(pgError('58030', 'could not write to file "pg_wal/xlogtemp.1": Input/output error')) instanceof Unavailable, 'class 58: I/O error');
  });

  it('leaves other errors alone: a privilege error on a table, a message that merely quotes the words', () => {
    const priv = pgError('42501', 'permission denied for table resources');
    assert.equal(mapDbError(priv), priv);
    // A data error whose text quotes the words is the client's bad value (400), not a storage fault.
    const quoted = mapDbError(pgError('22P02', 'invalid input syntax for type json: "No space left on device"'));
    assert.ok(!(quoted instanceof Unavailable), 'not a storage fault');
    assert.equal(toErrorBody(quoted).statusCode, 400);
  });
});
