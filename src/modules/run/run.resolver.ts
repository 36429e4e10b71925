import { Args, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { RunsArgs } from './run.args.js';
import { RunConnection, RunType } from './run.type.js';

@Resolver(() => RunType)
export class RunResolver {
  // Every role may read each kind's runs (modelRun, suggestionRun, ruleRun), so all of them.
  @Authorized()
  @Query(() => RunConnection, {
    description: 'Training, scoring and rule runs together, newest first',
  })
  async runs(@Args(() => RunsArgs) args: RunsArgs, @Ctx() ctx: GraphQLContext) {
    return RunConnection.fromPage(
      await ctx.services.runs.list({ kind: args.kind, statuses: args.status }, args),
    );
  }
}
