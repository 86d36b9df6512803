import { Module } from '@nestjs/common';
import { Database } from '../database/database.js';
import { ObservabilityModule } from '../observability/observability.module.js';
import { GrpcServices } from './grpc/grpc-services.js';
import { RegistryGrpcServer } from './grpc/registry.grpc-server.js';
import { EndpointsService } from './endpoints.service.js';
import { EphemeralEndpoints } from './ephemeral-endpoints.js';
import { OrphanSweeper } from './orphan-sweeper.js';
import { RegistryEvents } from './registry-events.js';
import { RegistryService } from './registry.service.js';
import { ApplyController } from './rest/apply.controller.js';
import { EndpointsController } from './rest/endpoints.controller.js';
import { ListenersController, PoliciesController, RolloutsController, RoutesController, ServicesController } from './rest/resource.controllers.js';
import { RolloutActionsController } from './rest/rollout-actions.controller.js';
import { RollbackController } from './rest/rollback.controller.js';
import { RegistryHistory } from './history.js';
import { RolloutActions } from './rollout-actions.js';
import { REGISTRY_STORE } from './store/registry-store.js';
import { TypeormRegistryStore } from './store/typeorm-registry-store.js';

/** Resources, their store, and the REST and gRPC APIs over them. */
@Module({
  imports: [ObservabilityModule],
  controllers: [ServicesController, EndpointsController, RoutesController, ListenersController, PoliciesController, RolloutsController, RolloutActionsController, ApplyController, RollbackController],
  providers: [
    { provide: REGISTRY_STORE, inject: [Database], useFactory: (db: Database) => new TypeormRegistryStore(db.dataSource) },
    RegistryService,
    RegistryHistory,
    RolloutActions,
    EphemeralEndpoints,
    EndpointsService,
    OrphanSweeper,
    RegistryEvents,
    RegistryGrpcServer,
    GrpcServices,
  ],
  exports: [RegistryService, RegistryHistory, RegistryEvents, EphemeralEndpoints, REGISTRY_STORE, GrpcServices],
})
export class RegistryModule {}
