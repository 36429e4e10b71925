import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Audited } from '../../graphql/audit.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { MAY } from '../access/roles.js';
import { RunsArgs } from './run.args.js';
import { RunKind, type RunRecord } from './run.repository.js';
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

  // Those who may start runs may stop them.
  @Authorized(MAY.cancelRuns)
  @Audited({
    // The id is unique within its kind, which the change names.
    targetType: 'RUN',
    targets: (_args, run: RunRecord) => [run.id],
    change: (args, run: RunRecord) => ({ kind: args.kind, status: run.status }),
  })
  @Mutation(() => RunType, {
    description:
      'Stop a run: a QUEUED one is CANCELLED at once; a RUNNING one is CANCELLED by its worker within seconds, with what it wrote rolled back (see cancelRequestedAt). A run that already ended is a CONFLICT',
  })
  cancelRun(
    @Arg('kind', () => RunKind) kind: RunKind,
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RunRecord> {
    return ctx.services.runs.cancel(kind, id);
  }
}
