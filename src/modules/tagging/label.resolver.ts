import { Authorized, Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { SCAN_WEIGHTS, Scans } from '../../graphql/cost.js';
import type { TagRecord } from '../taxonomy/taxonomy.loaders.js';
import { TagType } from '../taxonomy/taxonomy.type.js';
import { TagLabelCountsType } from './label.type.js';

@Resolver(() => TagType)
export class TagLabelsResolver {
  @Authorized()
  @FieldResolver(() => TagLabelCountsType, {
    description: 'What training would learn from: positives, known negatives, unlabelled',
  })
  // One statement for every tag asked for, as Tag.customerCount.
  @Scans(SCAN_WEIGHTS.scan, { batched: true })
  labels(@Root() tag: TagRecord, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.labelCountsByTagId.load(tag.id);
  }
}
