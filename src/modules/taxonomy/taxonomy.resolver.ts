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
import type { TagCategory } from './tag-category.entity.js';
import type { Tag } from './tag.entity.js';
import { TagsArgs } from './taxonomy.args.js';
import {
  CreateTagCategoryInput,
  CreateTagInput,
  MergeTagsArgs,
  RestrictTagCategoryArgs,
  UpdateTagInput,
} from './taxonomy.input.js';
import type { CategoryRecord, TagRecord } from './taxonomy.loaders.js';
import type { MergeOutcome } from './taxonomy.service.js';
import {
  MergeTagsResult,
  TagCategoryConnection,
  TagCategoryType,
  TagConnection,
  TagType,
} from './taxonomy.type.js';
import { Audited, rowSnapshot } from '../../graphql/audit.js';
import { sampleIds } from '../audit/audit.service.js';

@Resolver(() => TagCategoryType)
export class TagCategoryResolver {
  @Authorized()
  @Query(() => TagCategoryConnection)
  async tagCategories(@Args(() => PageArgs) page: PageArgs, @Ctx() ctx: GraphQLContext) {
    return TagCategoryConnection.fromPage(await ctx.services.taxonomy.listCategories(page));
  }

  @Authorized(MAY.administer)
  @Audited({
    targetType: 'TAG_CATEGORY',
    targets: (_args, category: TagCategory) => [category.id],
    change: (_args, category: TagCategory) => ({
      after: {
        key: category.key,
        name: category.name,
        kind: category.kind,
        parentId: category.parentId,
        exclusive: category.exclusive,
        suggestable: category.suggestable,
        departments: category.departments,
      },
    }),
  })
  @Mutation(() => TagCategoryType)
  createTagCategory(
    @Arg('input', () => CreateTagCategoryInput) input: CreateTagCategoryInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<TagCategory> {
    return ctx.services.taxonomy.createCategory(input);
  }

  @Authorized(MAY.administer)
  @Audited({
    targetType: 'TAG_CATEGORY',
    targets: (args) => [args.id],
    keep: ['key'],
    snapshot: rowSnapshot(
      'tag_category',
      { key: 'key', departments: 'departments' },
      (args) => args.id,
    ),
  })
  @Mutation(() => TagCategoryType, {
    description:
      'Sets the departments that may see the category, its subcategories and their tags; [] opens it to every key',
  })
  restrictTagCategory(
    @Args(() => RestrictTagCategoryArgs) args: RestrictTagCategoryArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<TagCategory> {
    return ctx.services.taxonomy.restrictCategory(args.id, args.departments);
  }

  @FieldResolver(() => [String], {
    description: 'Departments that may see it (and what is under it); empty: every key',
  })
  async departments(@Root() category: CategoryRecord, @Ctx() ctx: GraphQLContext) {
    return (
      (category as Partial<TagCategory>).departments ??
      (await ctx.loaders.tagCategoryById.load(category.id))?.departments ??
      []
    );
  }

  @FieldResolver(() => TagCategoryType, { nullable: true })
  parent(@Root() category: TagCategory, @Ctx() ctx: GraphQLContext) {
    return category.parentId ? ctx.loaders.tagCategoryById.load(category.parentId) : null;
  }

  @FieldResolver(() => [TagType], { description: 'Tags of this category (not of subcategories)' })
  tags(@Root() category: TagCategory, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.tagsByCategoryId.load(category.id);
  }
}

@Resolver(() => TagType)
export class TagResolver {
  @Authorized()
  @Query(() => TagConnection)
  async tags(@Args(() => TagsArgs) args: TagsArgs, @Ctx() ctx: GraphQLContext) {
    return TagConnection.fromPage(await ctx.services.taxonomy.listTags(args.filter, args));
  }

  @Authorized()
  @Query(() => TagType, { nullable: true })
  tag(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Tag> {
    return ctx.services.taxonomy.getTag(id);
  }

  @Authorized(MAY.administer)
  @Audited({
    targetType: 'TAG',
    targets: (_args, tag: Tag) => [tag.id],
    change: (_args, tag: Tag) => ({
      after: {
        key: tag.key,
        name: tag.name,
        categoryId: tag.categoryId,
        departments: tag.departments,
      },
    }),
  })
  @Mutation(() => TagType)
  createTag(
    @Arg('input', () => CreateTagInput) input: CreateTagInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Tag> {
    return ctx.services.taxonomy.createTag(input);
  }

  @Authorized(MAY.administer)
  @Audited({
    targetType: 'TAG',
    targets: (args) => [args.id],
    keep: ['key'],
    snapshot: rowSnapshot(
      'tag',
      {
        key: 'key',
        name: 'name',
        description: 'description',
        color: 'color',
        categoryId: 'category_id',
        learnFromRules: 'learn_from_rules',
        departments: 'departments',
      },
      (args) => args.id,
    ),
  })
  @Mutation(() => TagType)
  updateTag(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateTagInput) input: UpdateTagInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Tag> {
    return ctx.services.taxonomy.updateTag(id, input);
  }

  @Authorized(MAY.administer)
  @Audited({
    targetType: 'TAG',
    targets: (args) => [args.id],
    keep: ['key'],
    snapshot: rowSnapshot('tag', { key: 'key', status: 'status' }, (args) => args.id),
  })
  @Mutation(() => TagType, {
    description: 'The tag can no longer be applied; assignments and history stay',
  })
  deprecateTag(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Tag> {
    return ctx.services.taxonomy.deprecateTag(id);
  }

  @Authorized(MAY.administer)
  @Audited({
    targetType: 'TAG',
    targets: (args) => [args.targetId, ...args.sourceIds],
    change: (args, outcome: MergeOutcome) => ({
      targetId: args.targetId,
      sourceIds: sampleIds(args.sourceIds),
      moved: outcome.moved,
      duplicates: outcome.duplicates,
      retired: outcome.retired.length,
    }),
  })
  @Mutation(() => MergeTagsResult, {
    description: 'Moves the sources’ assignments to the target and retires the sources',
  })
  mergeTags(
    @Args(() => MergeTagsArgs) args: MergeTagsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<MergeOutcome> {
    return ctx.services.taxonomy.mergeTags(args, viewerOf(ctx));
  }

  @FieldResolver(() => [String], { description: 'Departments that may see it; empty: every key' })
  async departments(@Root() tag: TagRecord, @Ctx() ctx: GraphQLContext) {
    return (
      (tag as Partial<Tag>).departments ??
      (await ctx.loaders.tagById.load(tag.id))?.departments ??
      []
    );
  }

  @FieldResolver(() => TagCategoryType)
  category(@Root() tag: TagRecord & { category?: CategoryRecord }, @Ctx() ctx: GraphQLContext) {
    return tag.category ?? ctx.loaders.tagCategoryById.load(tag.categoryId);
  }

  @FieldResolver(() => TagType, {
    nullable: true,
    description: 'Where a merged tag’s assignments went',
  })
  mergedInto(@Root() tag: TagRecord, @Ctx() ctx: GraphQLContext) {
    return tag.mergedIntoId ? ctx.loaders.tagById.load(tag.mergedIntoId) : null;
  }

  @FieldResolver(() => Int, { description: 'Customers holding the tag now' })
  // One statement counts the assignments of every tag asked for: at most one pass over them.
  @Scans(SCAN_WEIGHTS.scan, { batched: true })
  customerCount(@Root() tag: TagRecord, @Ctx() ctx: GraphQLContext): Promise<number> {
    return ctx.loaders.customerCountByTagId.load(tag.id);
  }
}
