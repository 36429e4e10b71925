import { Authorized, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import type { CustomerRecord } from '../customer/customer.repository.js';
import { CustomerType } from '../customer/customer.type.js';
import { CustomerFeaturesType, FeatureSetType } from './feature.type.js';

@Resolver(() => CustomerType)
export class FeatureResolver {
  @Authorized()
  @Query(() => FeatureSetType)
  async featureSet(@Ctx() ctx: GraphQLContext): Promise<FeatureSetType> {
    const { set, definitions } = await ctx.services.features.describe();
    return {
      version: set.version,
      spendCategories: set.spendCategories,
      engagementCategories: set.engagementCategories,
      features: definitions,
    };
  }

  @FieldResolver(() => CustomerFeaturesType, {
    nullable: true,
    description:
      'Null until the features have been computed (`tagwise features`). Features computed from a personal trait are null for keys without the PII permission',
  })
  async features(@Root() customer: CustomerRecord, @Ctx() ctx: GraphQLContext) {
    const stored = await ctx.loaders.featuresByCustomerId.load(customer.id);
    if (!stored) return null;
    return {
      featureSetVersion: stored.featureSetVersion,
      computedAt: stored.computedAt,
      values: Object.entries(await ctx.access.readableFeatures(customer.id, stored.values))
        .map(([name, value]) => ({ name, value }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    };
  }
}
