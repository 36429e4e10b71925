import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { createConnectionType } from '../common/connection.type.js';
import type { Attributes } from './customer.entity.js';

@ObjectType('Customer')
export class CustomerType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'The id in the source CRM; unique' })
  externalId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => String, { nullable: true })
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
    description: 'Typed traits: numbers, strings, booleans and ISO dates by key',
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
