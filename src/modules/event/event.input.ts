import { IsISO4217CurrencyCode, Length, MaxLength } from 'class-validator';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, InputType } from 'type-graphql';
import { Channel } from './event.entity.js';

@InputType({ description: 'One behaviour event; give customerExternalId or customerId' })
export class EventInput {
  @Field(() => String, { nullable: true, description: 'Unique; a repeated one is ignored' })
  @Length(1, 200)
  externalId?: string | null;

  @Field(() => String, { nullable: true })
  @Length(1, 200)
  customerExternalId?: string | null;

  @Field(() => ID, { nullable: true })
  customerId?: string | null;

  @Field(() => String, { description: 'A BuiltinEventType name or a custom UPPER_SNAKE name' })
  @Length(1, 50)
  type!: string;

  @Field(() => Date)
  occurredAt!: Date;

  @Field(() => Float, { nullable: true, description: 'Purchases: the amount spent (≥ 0)' })
  amount?: number | null;

  @Field(() => String, { nullable: true, description: 'ISO 4217, e.g. CNY' })
  @IsISO4217CurrencyCode()
  currency?: string | null;

  @Field(() => String, { nullable: true, description: 'Product or content category' })
  @MaxLength(100)
  category?: string | null;

  @Field(() => Channel, { nullable: true })
  channel?: Channel | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  properties?: Record<string, unknown> | null;
}

@InputType()
export class EventFilter {
  @Field(() => [String], { nullable: true })
  types?: string[] | null;

  @Field(() => Date, { nullable: true, description: 'Inclusive' })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Exclusive' })
  to?: Date | null;
}
