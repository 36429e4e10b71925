import { Args, Authorized, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import { viewerOf, type GraphQLContext } from '../../graphql/context.js';
import { MAY } from '../access/roles.js';
import { PageArgs } from '../common/connection.type.js';
import { CustomerType } from '../customer/customer.type.js';
import type { CustomerRecord } from '../customer/customer.repository.js';
import { TagType } from '../taxonomy/taxonomy.type.js';
import { TagChangeArgs } from './tagging.args.js';
import { loadHistoryPage } from './tagging.loaders.js';
import type { AppliedTagRow, TagHistoryRow } from './tagging.repository.js';
import type { ApplyOutcome, RemoveOutcome } from './tagging.service.js';
import {
  AppliedTagType,
  ApplyTagsResult,
  RemoveTagsResult,
  TagHistoryConnection,
  TagHistoryEntryType,
} from './tagging.type.js';
import { Audited } from '../../graphql/audit.js';
import { sampleIds } from '../audit/audit.service.js';

@Resolver(() => CustomerType)
export class CustomerTagsResolver {
  @FieldResolver(() => [AppliedTagType], { description: 'Tags the customer holds now' })
  tags(@Root() customer: CustomerRecord & { tags?: AppliedTagRow[] }, @Ctx() ctx: GraphQLContext) {
    return customer.tags ?? ctx.loaders.tagsByCustomerId.load(customer.id);
  }

  @FieldResolver(() => TagHistoryConnection, {
    description: 'Every change to the tags, newest first',
  })
  async tagHistory(
    @Root() customer: CustomerRecord,
    @Args(() => PageArgs) page: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ) {
    return TagHistoryConnection.fromPage(
      await loadHistoryPage(ctx.loaders, ctx.em, ctx.visibility, customer.id, page),
    );
  }

  @Authorized(MAY.review)
  @Audited({
    targetType: 'CUSTOMER',
    targets: (args) => args.customerIds,
    change: (args, outcome: ApplyOutcome) => ({
      customers: new Set(args.customerIds).size,
      tagIds: sampleIds(args.tagIds),
      ...outcome,
    }),
  })
  @Mutation(() => ApplyTagsResult, {
    description:
      'Applies every tag to every customer (at most 10,000 pairs), idempotently; in an exclusive category the new tag replaces the old',
  })
  applyTags(
    @Args(() => TagChangeArgs) args: TagChangeArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ApplyOutcome> {
    return ctx.services.tagging.applyTags(args, { actor: viewerOf(ctx).name });
  }

  @Authorized(MAY.review)
  @Audited({
    targetType: 'CUSTOMER',
    targets: (args) => args.customerIds,
    change: (args, outcome: RemoveOutcome) => ({
      customers: new Set(args.customerIds).size,
      tagIds: sampleIds(args.tagIds),
      ...outcome,
    }),
  })
  @Mutation(() => RemoveTagsResult, {
    description: 'Removes the tags from the customers, idempotently',
  })
  removeTags(
    @Args(() => TagChangeArgs) args: TagChangeArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RemoveOutcome> {
    return ctx.services.tagging.removeTags(args, { actor: viewerOf(ctx).name });
  }
}

@Resolver(() => TagHistoryEntryType)
export class TagHistoryResolver {
  @FieldResolver(() => TagType)
  tag(@Root() entry: TagHistoryRow, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.tagById.load(entry.tagId);
  }

  @FieldResolver(() => TagType, {
    nullable: true,
    description: 'REPLACED: the tag that replaced it; MERGED: the merge target',
  })
  relatedTag(@Root() entry: TagHistoryRow, @Ctx() ctx: GraphQLContext) {
    return entry.relatedTagId ? ctx.loaders.tagById.load(entry.relatedTagId) : null;
  }
}
