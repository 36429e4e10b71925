import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { viewerOf, type GraphQLContext } from '../../graphql/context.js';
import { SCAN_WEIGHTS, Scans } from '../../graphql/cost.js';
import { MAY } from '../access/roles.js';
import { PageArgs } from '../common/connection.type.js';
import type { CustomerRecord } from '../customer/customer.repository.js';
import { CustomerConnection, CustomerType } from '../customer/customer.type.js';
import { GraphQLJSON } from 'graphql-scalars';
import { printCondition, type Condition } from './condition/index.js';
import { CreateSegmentInput, SegmentDefinitionInput, UpdateSegmentInput } from './segment.input.js';
import type { Segment } from './segment.entity.js';
import type { SegmentPreview } from './segment.service.js';
import { SegmentConnection, SegmentPreviewType, SegmentType } from './segment.type.js';
import { Audited, rowSnapshot } from '../../graphql/audit.js';

@Resolver(() => SegmentType)
export class SegmentResolver {
  @Authorized()
  @Query(() => SegmentConnection)
  async segments(@Args(() => PageArgs) args: PageArgs, @Ctx() ctx: GraphQLContext) {
    return SegmentConnection.fromPage(
      await ctx.services.segments.listSegments(args.first, args.after),
    );
  }

  @Authorized()
  @Query(() => SegmentType)
  segment(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Segment> {
    return ctx.services.segments.getSegment(id);
  }

  @Authorized()
  @Query(() => SegmentPreviewType, {
    description: 'Count and a sample of the customers a condition matches, without saving it',
  })
  @Scans(SCAN_WEIGHTS.preview)
  previewSegment(
    @Arg('definition', () => SegmentDefinitionInput) definition: SegmentDefinitionInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SegmentPreview> {
    return ctx.services.segments.previewSegment(definition);
  }

  @Authorized(MAY.manageRules)
  @Audited({
    targetType: 'SEGMENT',
    targets: (_args, segment: Segment) => [segment.id],
    change: (_args, segment: Segment) => ({ after: { key: segment.key, name: segment.name } }),
  })
  @Mutation(() => SegmentType)
  createSegment(
    @Arg('input', () => CreateSegmentInput) input: CreateSegmentInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Segment> {
    return ctx.services.segments.createSegment(input, viewerOf(ctx).name);
  }

  @Authorized(MAY.manageRules)
  @Audited({
    targetType: 'SEGMENT',
    targets: (args) => [args.input.id],
    keep: ['key'],
    snapshot: rowSnapshot(
      'segment',
      { key: 'key', name: 'name', description: 'description', definition: 'definition' },
      (args) => args.input.id,
    ),
  })
  @Mutation(() => SegmentType)
  updateSegment(
    @Arg('input', () => UpdateSegmentInput) input: UpdateSegmentInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Segment> {
    return ctx.services.segments.updateSegment(input);
  }

  @Authorized(MAY.manageRules)
  @Audited({
    targetType: 'SEGMENT',
    targets: (args) => [args.id],
    change: (_args, segment: Segment) => ({ before: { key: segment.key, name: segment.name } }),
  })
  @Mutation(() => SegmentType, {
    description: 'Refused with CONFLICT while a segment or rule references it',
  })
  deleteSegment(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Segment> {
    return ctx.services.segments.deleteSegment(id);
  }

  // Described on the type; resolved here so personal operands are masked.
  @FieldResolver(() => GraphQLJSON)
  definition(@Root() segment: Segment, @Ctx() ctx: GraphQLContext): Promise<Condition> {
    return ctx.access.readableCondition(segment.definition);
  }

  @FieldResolver(() => String, {
    description:
      'The condition in its canonical text form (personal operands masked as in definition)',
  })
  async text(@Root() segment: Segment, @Ctx() ctx: GraphQLContext): Promise<string> {
    return printCondition(await ctx.access.readableCondition(segment.definition));
  }

  @FieldResolver(() => Int, { description: 'How many customers match now' })
  // One statement for a page of segments, but a pass over the customers for each of them.
  @Scans(SCAN_WEIGHTS.scan)
  size(@Root() segment: Segment, @Ctx() ctx: GraphQLContext): Promise<number> {
    return ctx.loaders.sizeBySegment.load(segment);
  }

  @FieldResolver(() => CustomerConnection, { description: 'Matching customers by id' })
  @Scans(SCAN_WEIGHTS.scan)
  async members(
    @Root() segment: Segment,
    @Args(() => PageArgs) args: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ) {
    return CustomerConnection.fromPage(
      await ctx.services.segments.members(segment.definition, args.first, args.after),
    );
  }
}

@Resolver(() => CustomerType)
export class CustomerSegmentsResolver {
  @FieldResolver(() => [SegmentType], { description: 'The saved segments this customer is in' })
  segments(@Root() customer: CustomerRecord, @Ctx() ctx: GraphQLContext): Promise<Segment[]> {
    return ctx.loaders.segmentsByCustomerId.load(customer.id);
  }
}
