import {
  Arg,
  Args,
  ArgsType,
  Authorized,
  Ctx,
  Field,
  FieldResolver,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { viewerOf, type GraphQLContext } from '../../graphql/context.js';
import { MAY } from '../access/roles.js';
import { PageArgs } from '../common/connection.type.js';
import type { TagRecord } from '../taxonomy/taxonomy.loaders.js';
import { TagType } from '../taxonomy/taxonomy.type.js';
import { GraphQLJSON } from 'graphql-scalars';
import { printCondition, type Condition } from '../segment/condition/index.js';
import { ConflictResolution, type Rule, type RuleRun } from './rule.entity.js';
import { CreateRuleInput, UpdateRuleInput } from './rule.input.js';
import type { ConflictRecord } from './rule.repository.js';
import {
  RuleConflictConnection,
  RuleConflictType,
  RuleConnection,
  RuleRunConnection,
  RuleReport,
  RuleRunType,
  RuleType,
} from './rule.type.js';
import { Audited, rowSnapshot } from '../../graphql/audit.js';

@ArgsType()
export class RuleConflictsArgs extends PageArgs {
  @Field(() => ID, { nullable: true })
  ruleId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Conflicts the run hit last' })
  runId?: string | null;

  @Field(() => Boolean, {
    defaultValue: false,
    description: 'false: open conflicts; true: resolved ones (resolveRuleConflict)',
  })
  resolved: boolean = false;
}

@Resolver(() => RuleType)
export class RuleResolver {
  @Authorized()
  @Query(() => RuleConnection, { description: 'In the order they run: priority, then age' })
  async rules(@Args(() => PageArgs) args: PageArgs, @Ctx() ctx: GraphQLContext) {
    return RuleConnection.fromPage(await ctx.services.rules.listRulePage(args.first, args.after));
  }

  @Authorized()
  @Query(() => RuleType)
  rule(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Rule> {
    return ctx.services.rules.getRule(id);
  }

  @Authorized(MAY.manageRules)
  @Audited({
    targetType: 'RULE',
    targets: (_args, rule: Rule) => [rule.id],
    change: (_args, rule: Rule) => ({
      after: {
        name: rule.name,
        tagId: rule.tagId,
        mode: rule.mode,
        enabled: rule.enabled,
        trigger: rule.trigger,
        priority: rule.priority,
      },
    }),
  })
  @Mutation(() => RuleType)
  createRule(
    @Arg('input', () => CreateRuleInput) input: CreateRuleInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Rule> {
    return ctx.services.rules.createRule(input, viewerOf(ctx).name);
  }

  @Authorized(MAY.manageRules)
  @Audited({
    targetType: 'RULE',
    targets: (args) => [args.input.id],
    snapshot: rowSnapshot(
      'rule',
      {
        name: 'name',
        description: 'description',
        definition: 'definition',
        tagId: 'tag_id',
        mode: 'mode',
        enabled: 'enabled',
        priority: 'priority',
        trigger: 'trigger',
      },
      (args) => args.input.id,
    ),
  })
  @Mutation(() => RuleType)
  updateRule(
    @Arg('input', () => UpdateRuleInput) input: UpdateRuleInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Rule> {
    return ctx.services.rules.updateRule(input);
  }

  @Authorized(MAY.manageRules)
  @Audited({
    targetType: 'RULE_RUN',
    targets: (_args, run: RuleRun) => [run.id],
    change: (args) => ({ dryRun: args.dryRun, ruleIds: args.ruleIds ?? null }),
  })
  @Mutation(() => RuleRunType, {
    description:
      'Queue a run of every enabled rule, or of ruleIds; a dry run reports and changes nothing',
  })
  runRules(
    @Arg('dryRun', () => Boolean, { defaultValue: false }) dryRun: boolean,
    @Arg('ruleIds', () => [ID], {
      nullable: true,
      description: 'Only these enabled rules (in their usual order); default: every enabled rule',
    })
    ruleIds: string[] | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RuleRun> {
    return ctx.services.rules.requestRun({ dryRun, ruleIds }, viewerOf(ctx).name, ctx.queue);
  }

  @Authorized()
  @Query(() => RuleRunType)
  ruleRun(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<RuleRun> {
    return ctx.services.rules.getRun(id);
  }

  @Authorized()
  @Query(() => RuleRunConnection, { description: 'Newest first' })
  async ruleRuns(@Args(() => PageArgs) args: PageArgs, @Ctx() ctx: GraphQLContext) {
    return RuleRunConnection.fromPage(await ctx.services.rules.listRuns(args.first, args.after));
  }

  @Authorized()
  @Query(() => RuleConflictConnection, {
    description:
      'Changes rules withheld because a reviewer decided otherwise, newest first; open ones unless resolved: true',
  })
  async ruleConflicts(
    @Args(() => RuleConflictsArgs) args: RuleConflictsArgs,
    @Ctx() ctx: GraphQLContext,
  ) {
    return RuleConflictConnection.fromPage(
      await ctx.services.rules.listConflicts(args, args.first, args.after),
    );
  }

  @Authorized(MAY.manageRules)
  @Audited({
    targetType: 'RULE_CONFLICT',
    targets: (args) => [args.id],
    change: (args, conflict: ConflictRecord) => ({
      resolution: args.resolution,
      kind: conflict.kind,
      ruleId: conflict.ruleId,
      tagId: conflict.tagId,
      customerId: conflict.customer.id,
    }),
  })
  @Mutation(() => RuleConflictType, {
    description:
      'Closes an open conflict once: KEEP_DECISION (later runs stay silent until the customer’s tag changes) or ACCEPT_RULE (the rule’s change is made, source RULE, by this key); CONFLICT when already resolved',
  })
  resolveRuleConflict(
    @Arg('id', () => ID) id: string,
    @Arg('resolution', () => ConflictResolution) resolution: ConflictResolution,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ConflictRecord> {
    return ctx.services.rules.resolveConflict(id, resolution, viewerOf(ctx).name);
  }

  // Described on the type; resolved here so personal operands are masked.
  @FieldResolver(() => GraphQLJSON)
  definition(@Root() rule: Rule, @Ctx() ctx: GraphQLContext): Promise<Condition> {
    return ctx.access.readableCondition(rule.definition);
  }

  @FieldResolver(() => String, {
    description:
      'The condition in its canonical text form (personal operands masked as in definition)',
  })
  async text(@Root() rule: Rule, @Ctx() ctx: GraphQLContext): Promise<string> {
    return printCondition(await ctx.access.readableCondition(rule.definition));
  }

  @FieldResolver(() => TagType)
  async tag(@Root() rule: Rule, @Ctx() ctx: GraphQLContext): Promise<TagRecord> {
    return (await ctx.loaders.tagById.load(rule.tagId))!;
  }
}

@Resolver(() => RuleRunType)
export class RuleRunResolver {
  @FieldResolver(() => [ID], {
    nullable: true,
    description: 'The rules it was asked to run; null: every enabled rule',
  })
  async ruleIds(@Root() run: RuleRun, @Ctx() ctx: GraphQLContext): Promise<string[] | null> {
    const hidden = await ctx.services.rules.hiddenRuleIds();
    return run.params.ruleIds?.filter((id) => !hidden.includes(id)) ?? null;
  }

  @FieldResolver(() => [RuleReport], {
    description: 'Per rule, in the order they ran; rules the key may not see are left out',
  })
  async reports(@Root() run: RuleRun, @Ctx() ctx: GraphQLContext): Promise<RuleReport[]> {
    const hidden = await ctx.services.rules.hiddenRuleIds();
    const reports = ((run.reports ?? []) as RuleReport[]).map((r) => ({ ...r, kept: r.kept ?? 0 }));
    return hidden.length === 0 ? reports : reports.filter((r) => !hidden.includes(r.ruleId));
  }

  @FieldResolver(() => RuleConflictConnection, {
    description:
      'Conflicts this run was the last to hit, open and resolved (a real run; a dry run records none)',
  })
  async conflicts(
    @Root() run: RuleRun,
    @Args(() => PageArgs) args: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ) {
    return RuleConflictConnection.fromPage(
      await ctx.services.rules.listConflicts(
        { runId: run.id, resolved: null },
        args.first,
        args.after,
      ),
    );
  }
}

@Resolver(() => RuleConflictType)
export class RuleConflictResolver {
  @FieldResolver(() => RuleType)
  rule(@Root() conflict: ConflictRecord, @Ctx() ctx: GraphQLContext): Promise<Rule> {
    return ctx.services.rules.getRule(conflict.ruleId);
  }

  @FieldResolver(() => TagType)
  async tag(@Root() conflict: ConflictRecord, @Ctx() ctx: GraphQLContext): Promise<TagRecord> {
    return (await ctx.loaders.tagById.load(conflict.tagId))!;
  }
}
