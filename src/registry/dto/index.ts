import type { Kind } from '../../model/resources.js';
import { ConfigDto } from './config.dto.js';
import { EndpointDto } from './endpoint.dto.js';
import { ListenerDto } from './listener.dto.js';
import { PolicyDto } from './policy.dto.js';
import type { ResourceDto } from './resource.dto.js';
import { RolloutDto } from './rollout.dto.js';
import { RouteDto } from './route.dto.js';
import { ServiceDto } from './service.dto.js';

/** DTO class per kind. */
export const DTO_BY_KIND: Record<Kind, new () => ResourceDto | ConfigDto> = {
  Service: ServiceDto,
  Endpoint: EndpointDto,
  Route: RouteDto,
  Listener: ListenerDto,
  Policy: PolicyDto,
  Rollout: RolloutDto,
  Config: ConfigDto,
};

export { ConfigDto, EndpointDto, ListenerDto, PolicyDto, RolloutDto, RouteDto, ServiceDto };
export type { ResourceDto };
