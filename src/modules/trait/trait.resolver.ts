import { Audited } from '../../graphql/audit.js';
import {
  Arg,
  Args,
  ArgsType,
  Authorized,
  Ctx,
  Field,
  Mutation,
  Query,
  Resolver,
} from 'type-graphql';
import { viewerOf, type GraphQLContext } from '../../graphql/context.js';
import { MAY } from '../access/roles.js';
import { PageArgs } from '../common/connection.type.js';
import type { TraitRecord } from './trait.repository.js';
import { TraitConnection, TraitType } from './trait.type.js';

@ArgsType()
export class TraitsArgs extends PageArgs {
  @Field(() => Boolean, { nullable: true, description: 'Only personal (true) or other (false)' })
  personal?: boolean | null;
}

@Resolver(() => TraitType)
export class TraitResolver {
  @Authorized(MAY.administer)
  @Query(() => TraitConnection, {
    description: 'Attribute keys customers hold or an admin described, by key',
  })
  async traits(@Args(() => TraitsArgs) args: TraitsArgs, @Ctx() ctx: GraphQLContext) {
    return TraitConnection.fromPage(await ctx.services.traits.listTraits(args, args));
  }

  @Authorized(MAY.administer)
  @Audited({
    targetType: 'TRAIT',
    // A trait is named by its attribute key; it has no id of its own.
    targets: (args) => [args.key],
    change: (args) => ({ after: { personal: args.personal } }),
  })
  @Mutation(() => TraitType, {
    description: 'Mark an attribute key personal (or not); it need not be held by any customer yet',
  })
  setTraitPersonal(
    @Arg('key', () => String) key: string,
    @Arg('personal', () => Boolean) personal: boolean,
    @Ctx() ctx: GraphQLContext,
  ): Promise<TraitRecord> {
    return ctx.services.traits.setPersonal(key, personal, viewerOf(ctx).name);
  }
}
