import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsObject, registerDecorator, ValidateIf, ValidateNested } from 'class-validator';
import { OneOf } from '../../common/dto.js';
import { POLICY_KINDS, POLICY_TYPES } from '../../policies/index.js';
import { resourceDto } from './resource.dto.js';

/** `spec.<type>` is required when `spec.type` names it, and forbidden otherwise. */
function Settings(type: string, cls: new () => object) {
  return applyDecorators(
    ApiPropertyOptional({ type: cls, description: `required when type is ${type}` }),
    ValidateIf((o: { type?: string }, v: unknown) => o.type === type || v !== undefined),
    (target: object, propertyName: string | symbol) =>
      registerDecorator({
        name: 'onlyForType',
        target: target.constructor,
        propertyName: propertyName as string,
        validator: {
          validate: (_v, args) => (args?.object as { type?: string }).type === type,
          defaultMessage: () => `is only allowed when type is ${type}`,
        },
      }),
    IsDefined({ message: `is required when type is ${type}` }),
    IsObject({ message: 'must be an object' }),
    ValidateNested(),
    Type(() => cls),
  );
}

/** A Policy's spec: `type`, and the settings of that type under a field named after it (one per registered kind). */
export class PolicySpecDto {
  @OneOf(POLICY_TYPES, { description: 'which settings field below applies' })
  type!: string;
  [settings: string]: unknown;
}
// The settings fields come from the registered kinds, so adding a kind needs no edit here.
for (const k of POLICY_KINDS) Settings(k.type, k.schema)(PolicySpecDto.prototype, k.type);

/** A typed traffic policy, attached to services or routes by name. */
export const PolicyDto = resourceDto('Policy', PolicySpecDto, 'A typed traffic policy, attached to services or routes by name.');
