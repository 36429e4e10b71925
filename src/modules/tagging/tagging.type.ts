import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { createConnectionType } from '../common/connection.type.js';
import { TagType } from '../taxonomy/taxonomy.type.js';
import type { TagRecord } from '../taxonomy/taxonomy.loaders.js';
import { TagSource } from './customer-tag.entity.js';
import { TagAction, type AssignmentSnapshot } from './tag-history.entity.js';

registerEnumType(TagSource, { name: 'TagSource', description: 'How an applied tag got there' });
registerEnumType(TagAction, { name: 'TagAction' });

@ObjectType('AppliedTag', { description: 'A tag a customer holds, with where it came from' })
export class AppliedTagType {
  @Field(() => TagType)
  tag!: TagRecord;

  @Field(() => TagSource)
  source!: TagSource;

  @Field(() => Float, { nullable: true })
  confidence!: number | null;

  @Field(() => String, { nullable: true })
  modelVersion!: string | null;

  @Field(() => Date)
  appliedAt!: Date;

  @Field(() => String, { nullable: true, description: 'Name of the API key that applied it' })
  appliedBy!: string | null;

  @Field(() => String, { nullable: true })
  note!: string | null;
}

@ObjectType('TagHistoryEntry', { description: 'One immutable change to a customer’s tags' })
export class TagHistoryEntryType {
  @Field(() => ID)
  id!: string;

  tagId!: string;
  relatedTagId!: string | null;

  @Field(() => TagAction)
  action!: TagAction;

  @Field(() => TagSource)
  source!: TagSource;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'The assignment before the change',
  })
  before!: AssignmentSnapshot | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'The assignment after the change',
  })
  after!: AssignmentSnapshot | null;

  @Field(() => String, { nullable: true })
  actor!: string | null;

  @Field(() => String, { nullable: true })
  note!: string | null;

  @Field(() => Date)
  occurredAt!: Date;
}

export const TagHistoryConnection = createConnectionType('TagHistory', TagHistoryEntryType);

@ObjectType()
export class ApplyTagsResult {
  @Field(() => Int, { description: 'Pairs newly applied' })
  applied!: number;

  @Field(() => Int, { description: 'Pairs the customer already held' })
  unchanged!: number;

  @Field(() => Int, { description: 'Tags removed because an exclusive category got a new tag' })
  replaced!: number;
}

@ObjectType()
export class RemoveTagsResult {
  @Field(() => Int)
  removed!: number;

  @Field(() => Int, { description: 'Pairs the customer did not hold' })
  notPresent!: number;
}
