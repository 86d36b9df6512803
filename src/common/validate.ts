import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError, type ValidatorOptions } from 'class-validator';
import { type FieldViolation, ValidationFailed } from './errors.js';

/** Options shared by the global ValidationPipe and every non-HTTP entry point. */
export const VALIDATOR_OPTIONS: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
};

const TYPE_RULES = ['whitelistValidation', 'isDefined', 'isObject', 'isArray', 'isString', 'isInt', 'isNumber', 'isBoolean', 'nestedValidation'];

/** Turns class-validator's error tree into `a.b[1].c: message` violations. */
export function flattenErrors(errors: ValidationError[], prefix = ''): FieldViolation[] {
  const out: FieldViolation[] = [];
  for (const e of errors) {
    const seg = /^\d+$/.test(e.property) ? `[${e.property}]` : prefix ? `.${e.property}` : e.property;
    const field = prefix + seg;
    let constraints = Object.entries(e.constraints ?? {});
    // A value of the wrong type fails every rule; report only the type problem.
    const typeRule = constraints.find(([rule]) => TYPE_RULES.includes(rule));
    if (typeRule) constraints = [typeRule];
    for (const [rule, msg] of constraints) {
      out.push({ field, message: rule === 'whitelistValidation' ? 'unknown field' : stripProperty(msg, e.property) });
    }
    if (e.children?.length) out.push(...flattenErrors(e.children, field));
  }
  return out;
}

function stripProperty(msg: string, property: string): string {
  if (msg.startsWith(`${property} `)) return msg.slice(property.length + 1);
  if (msg.startsWith(`nested property ${property} `)) return msg.slice(`nested property ${property} `.length);
  return msg;
}

/** Validates a plain object against a DTO class; throws ValidationFailed with field paths. */
export function validatePlain<T extends object>(cls: new () => T, plain: unknown, prefix = ''): T {
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) {
    throw new ValidationFailed([{ field: prefix || '(body)', message: 'must be an object' }]);
  }
  const dto = plainToInstance(cls, plain);
  const errors = validateSync(dto as object, VALIDATOR_OPTIONS);
  if (errors.length) throw new ValidationFailed(flattenErrors(errors, prefix));
  return dto;
}

