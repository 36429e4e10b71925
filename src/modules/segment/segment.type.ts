import { GraphQLJSON } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { createConnectionType } from '../common/connection.type.js';
import { CustomerType } from '../customer/customer.type.js';

@ObjectType('Segment', { description: 'A saved condition over customers' })
export class SegmentType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'How conditions reference it: segment:<key>' })
  key!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => GraphQLJSON, {
    description:
      'The condition tree, shaped like ConditionInput (one member per node); operands of comparisons on personal data read *** for keys without the PII permission',
  })
  definition!: unknown;

  @Field(() => String, { nullable: true })
  createdBy!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

export const SegmentConnection = createConnectionType('Segment', SegmentType);

@ObjectType({ description: 'A condition evaluated without saving it' })
export class SegmentPreviewType {
  @Field(() => GraphQLJSON, { description: 'The parsed and validated condition tree' })
  definition!: unknown;

  @Field(() => String, { description: 'The condition in its canonical text form' })
  text!: string;

  @Field(() => Int, { description: 'How many customers match now' })
  count!: number;

  @Field(() => [CustomerType], { description: 'The first matching customers by id' })
  sample!: unknown[];
}
