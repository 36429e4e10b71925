import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { createConnectionType } from '../common/connection.type.js';
import { CategoryKind } from './tag-category.entity.js';
import { TagStatus } from './tag.entity.js';

registerEnumType(CategoryKind, {
  name: 'CategoryKind',
  description: 'The tag dimension a category belongs to',
});
registerEnumType(TagStatus, {
  name: 'TagStatus',
  description: 'DEPRECATED tags keep their history but can no longer be applied',
});

@ObjectType('TagCategory', { description: 'A node of the tag taxonomy; categories nest' })
export class TagCategoryType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  key!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => CategoryKind)
  kind!: CategoryKind;

  /** Resolved by TaxonomyResolver through the category loader. */
  parentId!: string | null;

  @Field(() => Boolean, { description: 'A customer holds at most one tag of this category' })
  exclusive!: boolean;

  @Field(() => Boolean, { description: 'Models may propose tags of this category' })
  suggestable!: boolean;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType('Tag')
export class TagType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, {
    description: 'Unique, normalized: trimmed, lower-case, dashes for spaces',
  })
  key!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => String, { nullable: true, description: 'Hex colour, e.g. #1f77b4' })
  color!: string | null;

  categoryId!: string;

  @Field(() => TagStatus)
  status!: TagStatus;

  @Field(() => Boolean, {
    description:
      'Whether holding the tag by a rule or behaviour trigger counts as a training label. Off by default: a model trained on a rule’s output learns the rule back, not what people see in customers',
  })
  learnFromRules!: boolean;

  mergedIntoId!: string | null;

  @Field(() => Date, { nullable: true })
  deprecatedAt!: Date | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

export const TagConnection = createConnectionType('Tag', TagType);
export const TagCategoryConnection = createConnectionType('TagCategory', TagCategoryType);

@ObjectType()
export class MergeTagsResult {
  @Field(() => TagType)
  target!: TagType;

  @Field(() => [TagType], { description: 'The source tags, now DEPRECATED and merged into target' })
  retired!: TagType[];

  @Field(() => Int, { description: 'Assignments moved from a source tag to the target' })
  moved!: number;

  @Field(() => Int, {
    description: 'Source assignments dropped because the customer already held the target',
  })
  duplicates!: number;
}
