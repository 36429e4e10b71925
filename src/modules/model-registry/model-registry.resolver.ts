import {
  Arg,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { Role } from '../auth/api-key.entity.js';
import type { CustomerRecord } from '../customer/customer.repository.js';
import { CustomerType } from '../customer/customer.type.js';
import type { ModelVersion } from './model-version.entity.js';
import { ClusterType, ModelVersionType } from './model-registry.type.js';

@Resolver(() => ModelVersionType)
export class ModelVersionResolver {
  @Authorized()
  @Query(() => [ModelVersionType], { description: 'Newest first (at most 500)' })
  modelVersions(@Ctx() ctx: GraphQLContext): Promise<ModelVersion[]> {
    return ctx.services.models.list();
  }

  @Authorized()
  @Query(() => ModelVersionType, { nullable: true })
  activeModelVersion(@Ctx() ctx: GraphQLContext): Promise<ModelVersion | null> {
    return ctx.services.models.active();
  }

  @Authorized(Role.DATA_SCIENTIST, Role.ADMIN)
  @Mutation(() => ModelVersionType, {
    description: 'Make this version ACTIVE and retire the current one; an older version rolls back',
  })
  promoteModelVersion(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ModelVersion> {
    return ctx.services.models.promote(id);
  }

  @FieldResolver(() => [ClusterType])
  clusters(@Root() model: ModelVersion, @Ctx() ctx: GraphQLContext) {
    return ctx.services.models.clustersOf(model.id);
  }
}

@Resolver(() => CustomerType)
export class CustomerClusterResolver {
  @FieldResolver(() => ClusterType, {
    nullable: true,
    description: 'The customer’s segment in the active model',
  })
  cluster(@Root() customer: CustomerRecord, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.activeClusterByCustomerId.load(customer.id);
  }
}
