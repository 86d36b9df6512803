/** One problem with one field of a request, e.g. `spec.rules[1].backends[0].weight`. */
export interface FieldViolation {
  field: string;
  message: string;
}

/** Base of the errors the application services raise; each transport maps them to its own codes. */
export abstract class DomainError extends Error {
  abstract readonly code: 'invalid' | 'too_large' | 'not_found' | 'conflict' | 'already_exists' | 'precondition' | 'unavailable' | 'unauthenticated' | 'permission_denied' | 'rate_limited' | 'insufficient_storage';
  details?: Record<string, unknown>;
}

/** Most violations one error lists; a body of thousands of bad fields gets the first ones and a count, not an answer as large as itself. */
export const MAX_VIOLATIONS = 100;

/** Bad input: 400 / INVALID_ARGUMENT, with one entry per bad field (at most MAX_VIOLATIONS, the last then counting the rest). */
export class ValidationFailed extends DomainError {
  readonly code: 'invalid' | 'too_large' = 'invalid';
  readonly violations: FieldViolation[];
  constructor(violations: FieldViolation[], message = 'validation failed') {
    const listed = violations.length > MAX_VIOLATIONS ? [...violations.slice(0, MAX_VIOLATIONS - 1), { field: '(body)', message: `and ${violations.length - MAX_VIOLATIONS + 1} more problems` }] : violations;
    super(`${message}: ${listed.map((v) => `${v.field}: ${v.message}`).join('; ')}`);
    this.violations = listed;
  }
}

/** A field over its size limit: 413 over HTTP, INVALID_ARGUMENT (with the field) over gRPC. */
export class TooLarge extends ValidationFailed {
  override readonly code = 'too_large';
}

export class NotFound extends DomainError {
  readonly code = 'not_found';
}

export class AlreadyExists extends DomainError {
  readonly code = 'already_exists';
}

/** The request is well-formed but conflicts with other resources (e.g. referrers). */
export class Conflict extends DomainError {
  readonly code = 'conflict';
  constructor(message: string, details?: Record<string, unknown>) {
    super(message);
    this.details = details;
  }
}

/** If-Match / expected version did not match: 412 / FAILED_PRECONDITION. */
export class PreconditionFailed extends DomainError {
  readonly code = 'precondition';
  constructor(message: string, details?: Record<string, unknown>) {
    super(message);
    this.details = details;
  }
}

/** A dependency (the database) cannot be reached: 503 / UNAVAILABLE. */
export class Unavailable extends DomainError {
  readonly code = 'unavailable';
}

/** No credentials, or credentials that prove nothing (expired, malformed, unknown): 401 / UNAUTHENTICATED. */
export class Unauthenticated extends DomainError {
  readonly code = 'unauthenticated';
}

/** The caller is known but its role or scopes do not cover the request: 403 / PERMISSION_DENIED. */
export class PermissionDenied extends DomainError {
  readonly code = 'permission_denied';
}

/** The caller's request budget is spent: 429 with Retry-After / RESOURCE_EXHAUSTED. */
export class RateLimited extends DomainError {
  readonly code = 'rate_limited';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** The database's disk is full (SQLSTATE 53100, ENOSPC): 507 over HTTP, RESOURCE_EXHAUSTED over gRPC. */
export class InsufficientStorage extends DomainError {
  readonly code = 'insufficient_storage';
}

/**
 * A write the database could not put on disk: the disk is full (507), or the
 * data directory is read-only or not writable, or an I/O error (503). These are
 * the server's storage, not the request: without this mapping they were a
 * generic 500. `undefined` for every other error.
 */
export function storageFault(code: string | undefined, message: string): DomainError | undefined {
  // Only the codes of file errors: a message can quote user data (e.g. a value that failed to parse).
  const fileError = !code || code === '42501' || /^5[38]/.test(code);
  // 53100 disk_full; ENOSPC can also surface as 58030 (io_error) "No space left on device".
  if (code === '53100' || (fileError && /No space left on device/i.test(message))) return new InsufficientStorage(`database storage is full (no space left on device): ${message}`);
  // PostgreSQL reports EROFS and EACCES on its own files as 42501 with the OS message; a privilege error on a table says "permission denied for".
  if (fileError && /Read-only file system/i.test(message)) return new Unavailable(`database storage is read-only: ${message}`);
  if (code === '42501' && /could not .*file/i.test(message)) return new Unavailable(`database storage cannot be written: ${message}`);
  // Class 58: system errors outside PostgreSQL (I/O errors; in PGlite a stale file table after a failed create).
  if (code?.startsWith('58')) return new Unavailable(`database storage error: ${message}`);
  return undefined;
}

/**
 * SQLSTATEs of a value PostgreSQL cannot take: NUL in text (22021), \u0000 or
 * a lone surrogate in jsonb (22P05, 22P02), a number or time out of a column's
 * range (22003, 22008). The value came with the request (a path or query
 * parameter the validation lets through), so it is the request's fault: 400,
 * not 500.
 */
const BAD_VALUE_CODES = new Set(['22021', '22P05', '22P02', '22003', '22008', '22007']);

/** A 400 for a value the database refused; `undefined` for every other error. */
export function dataFault(code: string | undefined, message: string, field = '(request)'): ValidationFailed | undefined {
  if (!code || !BAD_VALUE_CODES.has(code)) return undefined;
  return new ValidationFailed([{ field, message: `holds a value the database cannot store or compare (${message.split('\n')[0]})` }]);
}
