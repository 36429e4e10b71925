import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { viewerOf, type GraphQLContext } from '../../graphql/context.js';
import { GraphQLJSONObject } from 'graphql-scalars';
import { TagType } from '../taxonomy/taxonomy.type.js';
import { withoutHiddenTags } from '../taxonomy/visibility.js';
import { MAY } from '../access/roles.js';
import { PageArgs } from '../common/connection.type.js';
import type { CustomerRecord } from '../customer/customer.repository.js';
import { CustomerType } from '../customer/customer.type.js';
import type { TagEvaluation } from '../../ml/classifier/index.js';
import type { Cluster, ModelRun, ModelVersion } from './model-version.entity.js';
import {
  ClusterType,
  TagEvaluationType,
  ModelRunType,
  ModelVersionConnection,
  ModelVersionType,
  TrainModelsInput,
} from './model-registry.type.js';
import { Audited, rowSnapshot } from '../../graphql/audit.js';
import { sampleIds } from '../audit/audit.service.js';

@Resolver(() => ModelVersionType)
export class ModelVersionResolver {
  @Authorized()
  @Query(() => ModelVersionConnection, { description: 'Newest first' })
  async modelVersions(@Args(() => PageArgs) page: PageArgs, @Ctx() ctx: GraphQLContext) {
    return ModelVersionConnection.fromPage(await ctx.services.models.list(page));
  }

  @Authorized()
  @Query(() => ModelVersionType, { nullable: true })
  activeModelVersion(@Ctx() ctx: GraphQLContext): Promise<ModelVersion | null> {
    return ctx.services.models.active();
  }

  @Authorized(MAY.manageModels)
  @Audited({
    targetType: 'MODEL_VERSION',
    targets: (args) => [args.id],
    // The version that was ACTIVE before is the one a rollback would promote again.
    snapshot: (audit, args) =>
      audit.firstRow(
        `select (select status from model_version where id = ?) as status,
                (select id::text from model_version where status = 'ACTIVE') as "activeVersionId"`,
        [/^[1-9][0-9]{0,17}$/.test(String(args.id)) ? args.id : null],
      ),
  })
  @Mutation(() => ModelVersionType, {
    description: 'Make this version ACTIVE and retire the current one; an older version rolls back',
  })
  promoteModelVersion(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ModelVersion> {
    return ctx.services.models.promote(id);
  }

  @FieldResolver(() => [TagEvaluationType], {
    description: 'Per tag: labels, held-out metrics, threshold, and why a tag is not confident',
  })
  async tagEvaluations(
    @Root() model: ModelVersion,
    @Ctx() ctx: GraphQLContext,
  ): Promise<TagEvaluationType[]> {
    const metrics = await visibleJson(ctx, model.metrics as { tags?: TagEvaluation[] });
    const tags = metrics.tags ?? [];
    return tags.map((e) => ({
      ...e,
      heldOutCustomers: e.heldOut.customers,
      heldOutPositives: e.heldOut.positives,
      heldOutNegatives: e.heldOut.negatives,
    })) as TagEvaluationType[];
  }

  @FieldResolver(() => String, {
    nullable: true,
    description:
      'Signed link to the training report (report.html), relative to the API, valid 15 minutes; null when the version has no report or a tag is hidden from the key (the report shows every tag)',
  })
  reportUrl(@Root() model: ModelVersion, @Ctx() ctx: GraphQLContext): Promise<string | null> {
    return ctx.services.reports.linkFor(model, ctx.viewer, ctx.visibility);
  }

  @FieldResolver(() => GraphQLJSONObject)
  params(@Root() model: ModelVersion, @Ctx() ctx: GraphQLContext) {
    return visibleJson(ctx, model.params);
  }

  @FieldResolver(() => GraphQLJSONObject)
  trainingSummary(@Root() model: ModelVersion, @Ctx() ctx: GraphQLContext) {
    return visibleJson(ctx, model.trainingSummary);
  }

  @FieldResolver(() => GraphQLJSONObject, { description: 'Held-out metrics per tag, silhouette' })
  metrics(@Root() model: ModelVersion, @Ctx() ctx: GraphQLContext) {
    return visibleJson(ctx, model.metrics);
  }

  @FieldResolver(() => [ClusterType])
  clusters(@Root() model: ModelVersion, @Ctx() ctx: GraphQLContext) {
    return ctx.services.models.clustersOf(model.id);
  }

  @Authorized(MAY.manageModels)
  @Audited({
    targetType: 'MODEL_RUN',
    targets: (_args, run: ModelRun) => [run.id],
    change: (args) => ({
      ...args.input,
      ...(args.input?.tags
        ? { tags: sampleIds(args.input.tags), tagCount: args.input.tags.length }
        : {}),
    }),
  })
  @Mutation(() => ModelRunType, {
    description: 'Queue a training run; follow it with modelRun(id) until SUCCEEDED or FAILED',
  })
  async trainModels(
    @Arg('input', () => TrainModelsInput, { nullable: true }) input: TrainModelsInput | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ModelRun> {
    return ctx.services.training.request(input ?? {}, viewerOf(ctx).name);
  }

  @Authorized()
  @Query(() => ModelRunType, { nullable: true })
  modelRun(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<ModelRun> {
    return ctx.services.models.getRun(id);
  }

  @Authorized()
  @Query(() => [ClusterType], {
    name: 'clusters',
    description: 'Segments of the active model (or of a version)',
  })
  modelClusters(
    @Arg('modelVersionId', () => ID, { nullable: true }) modelVersionId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Cluster[]> {
    return ctx.services.models.clusters(modelVersionId);
  }

  @Authorized(MAY.manageModels)
  @Audited({
    targetType: 'CLUSTER',
    targets: (args) => [args.clusterId],
    snapshot: rowSnapshot('cluster', { tagId: 'tag_id' }, (args) => args.clusterId),
  })
  @Mutation(() => ClusterType, {
    description: 'Propose the tag for the cluster’s members; null unmaps',
  })
  mapClusterToTag(
    @Arg('clusterId', () => ID) clusterId: string,
    @Arg('tagId', () => ID, { nullable: true }) tagId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Cluster> {
    return ctx.services.models.mapClusterToTag(clusterId, tagId);
  }
}

@Resolver(() => ModelRunType)
export class ModelRunResolver {
  @FieldResolver(() => GraphQLJSONObject)
  params(@Root() run: ModelRun, @Ctx() ctx: GraphQLContext) {
    return visibleJson(ctx, run.params);
  }
}

/** Stored model JSON as the key's departments may see it (see withoutHiddenTags). */
async function visibleJson<T>(ctx: GraphQLContext, value: T): Promise<T> {
  const { tagKeys } = await ctx.visibility.hiddenTaxonomy();
  return withoutHiddenTags(value, new Set(tagKeys));
}

@Resolver(() => ClusterType)
export class ClusterResolver {
  @FieldResolver(() => TagType, { nullable: true, description: 'The tag proposed for members' })
  tag(@Root() cluster: Cluster & { tagId?: string | null }, @Ctx() ctx: GraphQLContext) {
    const id = cluster.tag?.id ?? cluster.tagId ?? null;
    return id ? ctx.loaders.tagById.load(id) : null;
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
