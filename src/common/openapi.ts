/**
 * OpenAPI building blocks shared by every controller: the error body schema,
 * error responses, the write headers (If-Match, X-Switchyard-Actor), the ETag
 * response header, and request bodies with a different schema per media type.
 * Documentation only: nothing here changes how a request is handled.
 */
import { applyDecorators } from '@nestjs/common';
import {
  ApiExtension,
  ApiHeader,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  type HeaderObject,
  type OpenAPIObject,
  type ReferenceObject,
  type RequestBodyObject,
  type SchemaObject,
} from '@nestjs/swagger';
import { KINDS } from '../model/resources.js';

/** One problem with one field of a request (see FieldViolation in errors.ts). */
export class FieldViolationDto {
  @ApiProperty({ example: 'spec.port', description: 'path of the bad field, e.g. spec.rules[1].backends[0].weight; (body) for the body as a whole' })
  field!: string;

  @ApiProperty({ example: 'must be <= 65535' })
  message!: string;
}

/** A resource named in a result or an error: what was created, updated, deleted, or what refers to the target. */
export class ResourceRefDto {
  @ApiProperty({ enum: KINDS })
  kind!: string;

  @ApiProperty({ example: 'echo' })
  name!: string;

  @ApiPropertyOptional({ description: 'owning service (endpoints only)' })
  service?: string;

  @ApiPropertyOptional({ description: 'namespace (configs only)' })
  namespace?: string;

  @ApiPropertyOptional({ description: 'group (configs only)' })
  group?: string;

  @ApiPropertyOptional({ type: 'integer', description: 'version after the operation' })
  version?: number;
}

/** The JSON body of every 4xx and 5xx answer (see toErrorBody in http.ts). */
export class ErrorBodyDto {
  @ApiProperty({ type: 'integer', example: 404, description: 'the HTTP status again' })
  statusCode!: number;

  @ApiProperty({ example: 'Not Found', description: 'reason phrase of the status' })
  error!: string;

  @ApiProperty({ example: 'Service echo not found' })
  message!: string;

  @ApiPropertyOptional({ type: [FieldViolationDto], description: '400 validation failed: one entry per bad field, all reported at once' })
  violations?: FieldViolationDto[];

  @ApiPropertyOptional({ type: [ResourceRefDto], description: '409: the resources that still reference the target (delete with ?cascade=true, or change them first)' })
  referrers?: ResourceRefDto[];

  @ApiPropertyOptional({ type: 'integer', description: '412: the version the resource is at (send it in If-Match to retry)' })
  currentVersion?: number;

  @ApiPropertyOptional({ description: '409 host conflict: the field that clashes, e.g. spec.hosts[0]' })
  field?: string;

  @ApiPropertyOptional({ type: ResourceRefDto, description: '409 host conflict: the Route that already serves the host' })
  conflictsWith?: ResourceRefDto;

  @ApiPropertyOptional({ description: '409: the Rollout that owns the Route being changed' })
  rollout?: string;

  @ApiPropertyOptional({ description: '409: the phase of the Rollout that refused the change or the action', example: 'Progressing' })
  phase?: string;
}

/** The error statuses the REST API documents. */
export type ErrorStatus = 400 | 404 | 409 | 412 | 413 | 415 | 503;

const DEFAULT_ERROR: Record<ErrorStatus, string> = {
  400: 'Invalid request: the body, a query parameter or a header is malformed (violations lists every bad field; also a body that is not valid JSON)',
  404: 'A resource named in the path does not exist',
  409: 'Conflicts with the stored state',
  412: 'Precondition failed: If-Match (or the version in the body) does not match the current version; currentVersion tells it',
  413: 'The body is larger than the limit (BODY_LIMIT_BYTES)',
  415: 'Unsupported Content-Type: send application/json',
  503: 'A dependency (the database, or coordination for heartbeat endpoints) cannot be reached; retry after Retry-After seconds',
};

const RETRY_AFTER: Record<string, HeaderObject> = {
  'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer', example: 1 } },
};

/**
 * Documents error answers of an operation, all with the ErrorBodyDto schema.
 * `true` takes the default description of the status; a string says when it
 * happens on this operation.
 */
export function ApiErrors(errors: Partial<Record<ErrorStatus, string | true>>): MethodDecorator {
  return applyDecorators(
    ...Object.entries(errors).map(([code, text]) => {
      const status = Number(code) as ErrorStatus;
      return ApiResponse({
        status,
        description: text === true ? DEFAULT_ERROR[status] : text,
        type: ErrorBodyDto,
        ...(status === 503 ? { headers: RETRY_AFTER } : {}),
      });
    }),
  );
}

/** `ETag: "<version>"`, set on every answer that is a single resource. */
export const ETAG_HEADER: Record<string, HeaderObject> = {
  ETag: { description: 'the resource version, quoted (send it back in If-Match)', schema: { type: 'string', example: '"7"' } },
};

/** The success answer of an operation returning one resource, with its ETag header. */
export function ApiResourceResponse(status: 200 | 201, type: Function, description: string): MethodDecorator {
  return ApiResponse({ status, type, description, headers: ETAG_HEADER });
}

/** The If-Match header (optimistic concurrency) of an operation that honours it. */
export function ApiIfMatch(): MethodDecorator {
  return ApiHeader({
    name: 'If-Match',
    required: false,
    description: 'only if the resource is at one of these versions: a quoted version from ETag ("7"), a list ("6", "7"), or * (exists); 412 otherwise, 400 when malformed',
    schema: { type: 'string', example: '"7"' },
  });
}

/** Who makes a write: recorded in the change log. */
export function ApiActor(): MethodDecorator {
  return ApiHeader({
    name: 'X-Switchyard-Actor',
    required: false,
    description: 'who makes the change, recorded in the change log (at most 128 characters; default anonymous)',
    schema: { type: 'string', maxLength: 128, example: 'alice' },
  });
}

/** The headers of a write: X-Switchyard-Actor, and If-Match when the write honours it. */
export function ApiWriteHeaders(opts: { ifMatch: boolean }): MethodDecorator {
  return applyDecorators(ApiActor(), ...(opts.ifMatch ? [ApiIfMatch()] : []));
}

const REQUEST_CONTENT = 'x-switchyard-request-body';

/** A media type of a request body and its schema. */
export interface MediaTypeDoc {
  schema: SchemaObject | ReferenceObject;
  example?: unknown;
}

/**
 * A request body whose schema depends on its media type (e.g. YAML text or a
 * JSON array), which @ApiBody cannot say: kept as an extension of the
 * operation and moved into `requestBody` by completeOpenApiDocument.
 */
export function ApiRequestContent(body: { description: string; required?: boolean; content: Record<string, MediaTypeDoc> }): MethodDecorator {
  return ApiExtension(REQUEST_CONTENT, { required: body.required ?? true, description: body.description, content: body.content }) as MethodDecorator;
}

/** Finishes the generated document: request bodies declared with ApiRequestContent, and the HTTP parser's answers on every operation. */
export function completeOpenApiDocument(doc: OpenAPIObject): OpenAPIObject {
  for (const path of Object.values(doc.paths)) {
    for (const op of Object.values(path) as Record<string, unknown>[]) {
      if (!op || typeof op !== 'object') continue;
      // Node's HTTP parser answers these before any route runs (answerParserErrors), so every operation can get them.
      const responses = (op.responses ??= {}) as Record<string, unknown>;
      for (const [status, description] of Object.entries(PARSER_ERRORS)) responses[status] ??= { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBodyDto' } } } };
      if (!(REQUEST_CONTENT in op)) continue;
      op.requestBody = op[REQUEST_CONTENT] as RequestBodyObject;
      delete op[REQUEST_CONTENT];
    }
  }
  return doc;
}

/** Answers of the HTTP parser itself, on any operation. */
const PARSER_ERRORS: Record<string, string> = {
  408: 'the request did not arrive in time (Node\'s request timeout)',
  431: 'the request line and headers are larger than the limit (16 KiB): a very long URL or header',
};
