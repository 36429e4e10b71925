import { Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { viewerOf, type GraphQLContext } from '../../graphql/context.js';
import { abilityFlags } from '../access/roles.js';
import { ViewerType } from './viewer.type.js';

@Resolver(() => ViewerType)
export class ViewerResolver {
  @Authorized()
  @Query(() => ViewerType, {
    description: 'Who the calling API key is and what its role may do, e.g. to choose screens',
  })
  viewer(@Ctx() ctx: GraphQLContext): ViewerType {
    const viewer = viewerOf(ctx);
    return {
      ...viewer,
      id: viewer.keyId,
      ...abilityFlags(viewer.role),
      canSeePersonalData: ctx.access.mayReveal,
    };
  }
}
