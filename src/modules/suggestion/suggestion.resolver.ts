import {
  Arg,
  Args,
  Authorized,
  Ctx,
  Field,
  FieldResolver,
  Float,
  ID,
  Mutation,
  ObjectType,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { viewerOf, type GraphQLContext } from '../../graphql/context.js';
import { SCAN_WEIGHTS, Scans, setsAnything } from '../../graphql/cost.js';
import { MAY } from '../access/roles.js';
import { InvalidInputError, NotFoundError, parseId, parseIds } from '../common/domain.errors.js';
import type { CustomerRecord } from '../customer/customer.repository.js';
import { CustomerType } from '../customer/customer.type.js';
import { ClusterType, ModelVersionType } from '../model-registry/model-registry.type.js';
import type { ModelVersion } from '../model-registry/model-version.entity.js';
import type { TagEvaluation } from '../../ml/classifier/index.js';
import { directionOf, explanationText } from '../../ml/explain.js';
import { TagType } from '../taxonomy/taxonomy.type.js';
import type { TagRecord } from '../taxonomy/taxonomy.loaders.js';
import { SuggestionStatus, type SuggestionRun } from './suggestion.entity.js';
import {
  AutoApplyPolicyInput,
  GenerateSuggestionsInput,
  ReviewQueueArgs,
  ReviewSuggestionsInput,
  type ReviewQueueFilter,
} from './suggestion.input.js';
import type { QueueFilter, SuggestionRecord } from './suggestion.repository.js';
import {
  ExplanationType,
  ReviewQueueConnection,
  ReviewSuggestionsResult,
  SuggestionRunType,
  TagCountType,
  TagPrecisionType,
  TagSuggestionType,
} from './suggestion.type.js';
import { Audited, rowSnapshot, type AuditSpec } from '../../graphql/audit.js';
import { sampleIds } from '../audit/audit.service.js';
import type { BulkOutcome } from './suggestion.service.js';

/** GraphQL filter → repository filter, with every id validated and named on failure. */
export function toQueueFilter(
  filter: ReviewQueueFilter | null | undefined,
  path = 'filter',
): QueueFilter {
  const id = (value: string | null | undefined, field: string) =>
    value ? parseId(value, `${path}.${field}`) : null;
  return {
    statuses: filter?.statuses?.length ? filter.statuses : [SuggestionStatus.PENDING],
    tagIds: parseIds(filter?.tagIds ?? [], `${path}.tagIds`),
    categoryIds: parseIds(filter?.categoryIds ?? [], `${path}.categoryIds`),
    minConfidence: filter?.minConfidence ?? null,
    maxConfidence: filter?.maxConfidence ?? null,
    modelVersionId: id(filter?.modelVersionId, 'modelVersionId'),
    clusterId: id(filter?.clusterId, 'clusterId'),
    customerId: id(filter?.customerId, 'customerId'),
    sources: filter?.sources ?? [],
    kinds: filter?.kinds ?? [],
    createdFrom: filter?.createdFrom ?? null,
    createdTo: filter?.createdTo ?? null,
  };
}

/** toQueueFilter plus the saved segment, compiled to SQL, when the filter names one. */
async function queueFilter(
  ctx: GraphQLContext,
  filter: ReviewQueueFilter | null | undefined,
  path = 'filter',
): Promise<QueueFilter> {
  const resolved = toQueueFilter(filter, path);
  resolved.hiddenTagIds = (await ctx.visibility.hiddenTaxonomy()).tagIds;
  if (filter?.segmentId) {
    const id = parseId(filter.segmentId, `${path}.segmentId`);
    const segment = await ctx.services.segments.getSegment(id).catch((error: unknown) => {
      if (error instanceof NotFoundError) {
        throw new InvalidInputError(
          `${path}.segmentId`,
          `${path}.segmentId: segment ${id} does not exist`,
        );
      }
      throw error;
    });
    const environment = await ctx.services.segments.loadEnvironment();
    resolved.segment = environment.compile(segment.definition);
  }
  return resolved;
}

@ObjectType('AutoApplyPolicy')
class AutoApplyPolicyType {
  @Field(() => Float, { nullable: true, description: 'null: every suggestion goes to review' })
  threshold!: number | null;

  @Field(() => Float, { description: 'Share of auto-applied suggestions sampled into the queue' })
  sampleRate!: number;
}

/** A decision on one suggestion: its status before and after, and what it was about. */
const decisionAudit: AuditSpec = {
  targetType: 'SUGGESTION',
  targets: (args) => [args.id],
  keep: ['customerId', 'tagId'],
  snapshot: rowSnapshot(
    'tag_suggestion',
    { status: 'status', customerId: 'customer_id', tagId: 'tag_id' },
    (args) => args.id,
  ),
};

@Resolver(() => TagSuggestionType)
export class SuggestionResolver {
  @Authorized()
  @Query(() => ReviewQueueConnection, {
    description: 'Suggestions to review; default PENDING, most uncertain first',
  })
  // By status, tag or customer the page follows an index and the counts come from tallies;
  // any other filter reads every suggestion it has to look at, for the page and for the counts.
  @Scans(SCAN_WEIGHTS.scan, {
    when: (args) => setsAnything(args.filter, ['statuses', 'tagIds', 'customerId']),
  })
  async reviewQueue(
    @Args(() => ReviewQueueArgs) args: ReviewQueueArgs,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ReviewQueueConnection.fromPage(
      await ctx.services.suggestions.queue(await queueFilter(ctx, args.filter), args.orderBy, args),
    );
  }

  @Authorized()
  @Query(() => TagSuggestionType)
  suggestion(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.suggestions.get(id);
  }

  @Authorized(MAY.review)
  @Audited(decisionAudit)
  @Mutation(() => TagSuggestionType, {
    description: 'Apply the suggested tag; CONFLICT if someone decided it first',
  })
  approveSuggestion(
    @Arg('id', () => ID) id: string,
    @Arg('note', () => String, { nullable: true }) note: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.suggestions.approve(id, viewerOf(ctx).name, note);
  }

  @Authorized(MAY.review)
  @Audited(decisionAudit)
  @Mutation(() => TagSuggestionType, {
    description: 'Record that the customer should not have the tag (a training label)',
  })
  rejectSuggestion(
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.suggestions.reject(id, viewerOf(ctx).name, reason);
  }

  @Authorized(MAY.review)
  @Audited({
    ...decisionAudit,
    change: (args) => ({ correctedTagId: args.tagId }),
  })
  @Mutation(() => TagSuggestionType, {
    description: 'Apply another tag of the same category instead of the suggested one',
  })
  correctSuggestion(
    @Arg('id', () => ID) id: string,
    @Arg('tagId', () => ID) tagId: string,
    @Arg('note', () => String, { nullable: true }) note: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.suggestions.correct(id, tagId, viewerOf(ctx).name, note);
  }

  @Authorized(MAY.review)
  @Audited({
    targetType: 'SUGGESTION',
    targets: (args, outcome: BulkOutcome) => args.input.ids ?? outcome.sample.map((s) => s.id),
    change: (args, outcome: BulkOutcome) => ({
      decision: args.input.decision,
      byFilter: args.input.filter != null,
      dryRun: outcome.dryRun,
      matched: outcome.matched,
      decided: outcome.decided,
      skipped: outcome.skipped.length,
    }),
  })
  @Mutation(() => ReviewSuggestionsResult, {
    description: 'Approve or reject many by ids or by filter; dryRun counts without writing',
  })
  async reviewSuggestions(
    @Arg('input', () => ReviewSuggestionsInput) input: ReviewSuggestionsInput,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.suggestions.bulk(
      {
        ids: input.ids ?? null,
        filter: input.filter ? await queueFilter(ctx, input.filter, 'input.filter') : null,
        decision: input.decision,
        note: input.note ?? null,
        dryRun: input.dryRun,
        limit: input.limit ?? null,
      },
      viewerOf(ctx).name,
    );
  }

  @Authorized(MAY.manageModels)
  @Audited({
    targetType: 'SUGGESTION_RUN',
    targets: (_args, run: SuggestionRun) => [run.id],
    change: (args) => ({
      modelVersionId: args.input?.modelVersionId ?? null,
      cooldownDays: args.input?.cooldownDays ?? null,
      tagIds: sampleIds(args.input?.tagIds),
      customers: args.input?.customerIds?.length ?? null,
    }),
  })
  @Mutation(() => SuggestionRunType, {
    description: 'Queue a scoring run; follow it with suggestionRun(id)',
  })
  async generateSuggestions(
    @Arg('input', () => GenerateSuggestionsInput, { nullable: true })
    input: GenerateSuggestionsInput | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SuggestionRun> {
    const run = await ctx.services.suggestions.createRun(input ?? {}, viewerOf(ctx).name);
    await ctx.queue.enqueueSuggestions(run.id);
    return run;
  }

  @Authorized()
  @Query(() => SuggestionRunType)
  suggestionRun(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.suggestions.getRun(id);
  }

  @Authorized(MAY.administer)
  @Audited({
    targetType: 'TAG',
    targets: (args) => [args.input.tagId],
    snapshot: rowSnapshot(
      'tag',
      { threshold: 'auto_apply_threshold', sampleRate: 'auto_apply_sample_rate' },
      (args) => args.input.tagId,
    ),
  })
  @Mutation(() => TagType, {
    description: 'Auto-apply a tag’s suggestions above a confidence, sampling some for review',
  })
  setAutoApplyPolicy(
    @Arg('input', () => AutoApplyPolicyInput) input: AutoApplyPolicyInput,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.suggestions.setAutoApplyPolicy(
      input.tagId,
      input.threshold ?? null,
      input.sampleRate,
    );
  }

  @FieldResolver(() => CustomerType)
  async customer(@Root() s: SuggestionRecord, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.customerById.load(s.customerId);
  }

  @FieldResolver(() => TagType)
  tag(@Root() s: SuggestionRecord, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.tagById.load(s.tagId);
  }

  @FieldResolver(() => TagType, {
    nullable: true,
    description: 'CORRECTION: the held tag approving replaces',
  })
  replacesTag(@Root() s: SuggestionRecord, @Ctx() ctx: GraphQLContext) {
    return s.replacesTagId ? ctx.loaders.tagById.load(s.replacesTagId) : null;
  }

  @FieldResolver(() => TagType, {
    nullable: true,
    description: 'CORRECTED: the tag applied instead',
  })
  correctedTag(@Root() s: SuggestionRecord, @Ctx() ctx: GraphQLContext) {
    return s.correctedTagId ? ctx.loaders.tagById.load(s.correctedTagId) : null;
  }

  @FieldResolver(() => ModelVersionType)
  modelVersion(@Root() s: SuggestionRecord, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.modelVersionById.load(s.modelVersionId);
  }

  @FieldResolver(() => ClusterType, { nullable: true, description: 'The customer’s segment' })
  cluster(@Root() s: SuggestionRecord, @Ctx() ctx: GraphQLContext) {
    return s.clusterId ? ctx.loaders.clusterById.load(s.clusterId) : null;
  }

  @FieldResolver(() => ExplanationType, {
    description:
      'A contribution of a feature computed from a personal trait does not state its value to keys without the PII permission',
  })
  async explanation(
    @Root() s: SuggestionRecord,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ExplanationType> {
    const contributions = await ctx.access.readableContributions(
      s.customerId,
      (s.explanation?.contributions ?? []).map((c) => ({
        ...c,
        direction: c.direction ?? directionOf(c.contribution),
      })),
    );
    const cluster = s.explanation?.cluster ?? null;
    return {
      // Cluster-mapped suggestions store their sentence; model ones derive it.
      text: s.explanation?.text ?? explanationText(contributions, cluster),
      cluster,
      contributions,
      precision: s.explanation?.precision ?? null,
      precisionIsEstimate: s.explanation?.precisionEstimated ?? null,
    };
  }
}

@Resolver(() => ReviewQueueConnection)
export class ReviewQueueConnectionResolver {
  @FieldResolver(() => [TagCountType], { description: 'Matching suggestions per tag, most first' })
  async countsByTag(@Root() connection: ReviewQueueConnection, @Ctx() ctx: GraphQLContext) {
    const counts = [...(await connection.counts()).entries()].sort((a, b) => b[1] - a[1]);
    const tags = await ctx.loaders.tagById.loadMany(counts.map(([id]) => id));
    return counts.flatMap(([, count], i) => {
      const tag = tags[i];
      return tag && !(tag instanceof Error) ? [{ tag, count }] : [];
    });
  }
}

@Resolver(() => CustomerType)
export class CustomerSuggestionsResolver {
  @FieldResolver(() => [TagSuggestionType], {
    description: 'Pending suggestions for this customer, most confident first',
  })
  suggestions(@Root() customer: CustomerRecord, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.pendingSuggestionsByCustomerId.load(customer.id);
  }
}

@Resolver(() => ModelVersionType)
export class ModelVersionPrecisionResolver {
  @FieldResolver(() => [TagPrecisionType], {
    description:
      'Per tag: how reviewers received this version’s suggestions, next to offline precision',
  })
  // One statement counts the suggestions of every version asked for.
  @Scans(SCAN_WEIGHTS.scan, { batched: true })
  async onlinePrecision(
    @Root() model: ModelVersion,
    @Ctx() ctx: GraphQLContext,
  ): Promise<TagPrecisionType[]> {
    const rows = await ctx.loaders.precisionByModelVersionId.load(model.id);
    const offline = new Map(
      ((model.metrics as { tags?: TagEvaluation[] }).tags ?? []).map((m) => [m.tag, m]),
    );
    const tags = await ctx.loaders.tagById.loadMany(rows.map((r) => r.tagId));
    return rows.flatMap((r, i) => {
      const tag = tags[i] as TagRecord | null | Error;
      if (!tag || tag instanceof Error) return [];
      const evaluation = offline.get(tag.key);
      return [
        {
          ...r,
          tag,
          offlinePrecision: evaluation?.precision ?? null,
          offlineEstimatedPrecision: evaluation?.estimatedPrecision ?? null,
        },
      ];
    });
  }
}

@Resolver(() => TagType)
export class TagAutoApplyResolver {
  @FieldResolver(() => AutoApplyPolicyType)
  autoApply(@Root() tag: TagRecord, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.autoApplyPolicyByTagId.load(tag.id);
  }
}
