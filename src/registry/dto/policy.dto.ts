import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsObject, registerDecorator, ValidateIf, ValidateNested } from 'class-validator';
import { CircuitBreakerPolicyDto } from '../../policies/circuit-breaker/circuit-breaker.policy.js';
import { HealthCheckPolicyDto } from '../../policies/health-check/health-check.policy.js';
import { LoadBalancerPolicyDto } from '../../policies/load-balancer/load-balancer.policy.js';
import { OutlierDetectionPolicyDto } from '../../policies/outlier-detection/outlier-detection.policy.js';
import { RateLimitPolicyDto } from '../../policies/rate-limit/rate-limit.policy.js';
import { RetryPolicyDto } from '../../policies/retry/retry.policy.js';
import { TimeoutPolicyDto } from '../../policies/timeout/timeout.policy.js';
import { POLICY_TYPES } from '../model.js';
import { OneOf } from './common.js';
import { KindField, ResourceDto } from './resource.dto.js';

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

export class PolicySpecDto {
  @OneOf(POLICY_TYPES, { description: 'which settings field below applies' })
  type!: string;

  @Settings('retry', RetryPolicyDto) retry?: RetryPolicyDto;
  @Settings('timeout', TimeoutPolicyDto) timeout?: TimeoutPolicyDto;
  @Settings('circuitBreaker', CircuitBreakerPolicyDto) circuitBreaker?: CircuitBreakerPolicyDto;
  @Settings('outlierDetection', OutlierDetectionPolicyDto) outlierDetection?: OutlierDetectionPolicyDto;
  @Settings('rateLimit', RateLimitPolicyDto) rateLimit?: RateLimitPolicyDto;
  @Settings('healthCheck', HealthCheckPolicyDto) healthCheck?: HealthCheckPolicyDto;
  @Settings('loadBalancer', LoadBalancerPolicyDto) loadBalancer?: LoadBalancerPolicyDto;
}

/** A typed traffic policy, attached to services or routes by name. */
export class PolicyDto extends ResourceDto {
  @KindField('Policy') kind?: string;

  @ApiProperty({ type: PolicySpecDto })
  @IsDefined({ message: 'is required' })
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => PolicySpecDto)
  spec!: PolicySpecDto;
}
