import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { createConnectionType } from '../common/connection.type.js';
import type { Attributes } from './customer.entity.js';

const MASKED = 'masked for keys without the PII permission';

@ObjectType('Customer')
export class CustomerType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'The id in the source CRM; unique' })
  externalId!: string;

  @Field(() => String, { description: `Personal: ${MASKED} (张三 → 张*)` })
  name!: string;

  @Field(() => String, { nullable: true, description: `Personal: ${MASKED} (w***@example.cn)` })
  email!: string | null;

  @Field(() => String, { nullable: true, description: `Personal: ${MASKED} (138****5678)` })
  phone!: string | null;

  @Field(() => String, { nullable: true })
  gender!: string | null;

  @Field(() => Int, { nullable: true })
  birthYear!: number | null;

  @Field(() => String, { nullable: true })
  region!: string | null;

  @Field(() => String, { nullable: true })
  city!: string | null;

  @Field(() => String, { nullable: true })
  industry!: string | null;

  @Field(() => Int, { nullable: true, description: 'Employees of the customer’s company' })
  companySize!: number | null;

  @Field(() => String, { nullable: true })
  lifecycleStage!: string | null;

  @Field(() => Date, {
    nullable: true,
    description:
      'When the customer became known to the business (sign-up, first order); tenure counts from here, else from createdAt',
  })
  firstSeenAt!: Date | null;

  @Field(() => GraphQLJSONObject, {
    description: `Typed traits: numbers, strings, booleans and ISO dates by key. Traits marked personal are masked for keys without the PII permission: strings read "***", numbers and booleans null`,
  })
  attributes!: Attributes;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

export const CustomerConnection = createConnectionType('Customer', CustomerType);

@ObjectType()
export class UpsertCustomersResult {
  @Field(() => Int)
  created!: number;

  @Field(() => Int)
  updated!: number;

  @Field(() => Int, { description: 'Rows identical to what was stored' })
  unchanged!: number;
}
