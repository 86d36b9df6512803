import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  Allow,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  ValidateNested,
  IsString,
  Matches,
  MaxLength,
  Max,
  Min,
  registerDecorator,
  type ValidationArguments,
} from 'class-validator';

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/**
 * A DNS-1123 label (or, with `each`, an array of them): lower-case alphanumerics and '-', at most 63 characters.
 * `required` is for the OpenAPI document only: pair `false` with @IsOptional().
 */
export function DnsLabel(description?: string, each = false, required = true) {
  const o = { each };
  return applyDecorators(
    each
      ? ApiProperty({ description, required, type: [String], example: ['echo'] })
      : ApiProperty({ description, required, pattern: DNS_LABEL.source, maxLength: 63, example: 'echo' }),
    IsString({ ...o, message: each ? 'each item must be a string' : 'must be a string' }),
    MaxLength(63, { ...o, message: each ? 'each item must be at most 63 characters' : 'must be at most 63 characters' }),
    Matches(DNS_LABEL, {
      ...o,
      message: `${each ? 'each item ' : ''}must be a DNS-1123 label (lower-case letters, digits and "-", starting and ending with a letter or digit)`,
    }),
  );
}

/** Optional integer within [min, max] with messages like `must be >= 0`. */
export function Int(min: number, max: number, opts: { optional?: boolean; description?: string; example?: number } = {}) {
  const doc = { type: 'integer' as const, minimum: min, maximum: max, description: opts.description, example: opts.example };
  return applyDecorators(
    ...(opts.optional ? [IsOptional(), ApiPropertyOptional(doc)] : [ApiProperty(doc)]),
    IsInt({ message: 'must be an integer' }),
    Min(min, { message: `must be >= ${min}` }),
    Max(max, { message: `must be <= ${max}` }),
  );
}

/** One of a fixed set of strings. */
export function OneOf(values: readonly string[], opts: { optional?: boolean; description?: string } = {}) {
  return applyDecorators(
    ...(opts.optional ? [IsOptional(), ApiPropertyOptional({ enum: values, description: opts.description })] : [ApiProperty({ enum: values, description: opts.description })]),
    IsIn(values as string[], { message: `must be one of: ${values.join(', ')}` }),
  );
}

/** A string of bounded length. */
export function Str(opts: { optional?: boolean; max?: number; min?: number; description?: string; example?: string } = {}) {
  const max = opts.max ?? 1024;
  const min = opts.min ?? 0;
  const doc = { type: 'string' as const, maxLength: max, minLength: min, description: opts.description, example: opts.example };
  return applyDecorators(
    ...(opts.optional ? [IsOptional(), ApiPropertyOptional(doc)] : [ApiProperty(doc)]),
    IsString({ message: 'must be a string' }),
    registerLength(min, max),
  );
}

function registerLength(min: number, max: number): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'length',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (v: unknown) => typeof v !== 'string' || (v.length >= min && v.length <= max),
        defaultMessage: (a?: ValidationArguments) =>
          typeof a?.value === 'string' && a.value.length < min ? `must not be empty` : `must be at most ${max} characters`,
      },
    });
}

/** A map of label keys to values, Kubernetes-style syntax, at most 64 entries. */
export function LabelMap(description = 'string keys and values, e.g. {version: v2}') {
  return applyDecorators(
    ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, description, example: { version: 'v1' } }),
    (target: object, propertyName: string | symbol) =>
      registerDecorator({
        name: 'labelMap',
        target: target.constructor,
        propertyName: propertyName as string,
        validator: {
          validate: (v: unknown) => labelMapProblem(v) === undefined,
          defaultMessage: (a?: ValidationArguments) => labelMapProblem(a?.value) ?? 'invalid labels',
        },
      }),
  );
}

function labelMapProblem(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'must be an object of string keys and string values';
  const entries = Object.entries(v);
  if (entries.length > 64) return 'must have at most 64 entries';
  for (const [k, val] of entries) {
    if (k.length > 253 || !LABEL_KEY.test(k) || k.split('/').pop()!.length > 63)
      return `key ${JSON.stringify(k)} is not a valid label key (alphanumerics, '-', '_', '.', optional DNS prefix and '/')`;
    if (typeof val !== 'string') return `value of ${JSON.stringify(k)} must be a string`;
    if (val.length > 63 || !LABEL_VALUE.test(val))
      return `value of ${JSON.stringify(k)} is not a valid label value (at most 63 alphanumerics, '-', '_', '.')`;
  }
  return undefined;
}

/** Fields every resource body may carry besides its spec; `schema` says what the server puts there. */
export function ServerOwned(schema: { type: 'string' | 'object'; format?: string; description?: string } = { type: 'object' }) {
  const description = `${schema.description ? `${schema.description}; ` : ''}server-owned, ignored on input`;
  return applyDecorators(
    schema.type === 'object'
      ? ApiPropertyOptional({ readOnly: true, description, type: 'object', additionalProperties: true })
      : ApiPropertyOptional({ readOnly: true, description, type: 'string', format: schema.format }),
    IsOptional(),
    Allow(),
  );
}

/** A finite number within [min, max] (decimals allowed), with messages like `must be >= 0`. */
export function Num(min: number, max: number, opts: { optional?: boolean; description?: string; example?: number } = {}) {
  const doc = { type: 'number' as const, minimum: min, maximum: max, description: opts.description, example: opts.example };
  return applyDecorators(
    ...(opts.optional ? [IsOptional(), ApiPropertyOptional(doc)] : [ApiProperty(doc)]),
    IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'must be a number' }),
    Min(min, { message: `must be >= ${min}` }),
    Max(max, { message: `must be <= ${max}` }),
  );
}

/** An optional boolean. */
export function Bool(opts: { description?: string } = {}) {
  return applyDecorators(IsOptional(), ApiPropertyOptional({ type: 'boolean', description: opts.description }), IsBoolean({ message: 'must be a boolean' }));
}

/** An optional nested settings object of class `cls`. */
export function Nested(cls: new () => object, opts: { description?: string } = {}) {
  return applyDecorators(
    IsOptional(),
    ApiPropertyOptional({ type: cls, description: opts.description }),
    IsObject({ message: 'must be an object' }),
    ValidateNested(),
    Type(() => cls),
  );
}
