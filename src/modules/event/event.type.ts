import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { createConnectionType } from '../common/connection.type.js';
import { BuiltinEventType, Channel } from './event.entity.js';

registerEnumType(Channel, { name: 'Channel', description: 'Where an event happened' });
registerEnumType(BuiltinEventType, {
  name: 'BuiltinEventType',
  description: 'Event types with built-in meaning; events may also carry custom UPPER_SNAKE names',
});

@ObjectType('Event', { description: 'Something a customer did' })
export class CustomerEventType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  externalId!: string | null;

  @Field(() => String)
  type!: string;

  @Field(() => Date)
  occurredAt!: Date;

  @Field(() => Float, { nullable: true })
  amount!: number | null;

  @Field(() => String, { nullable: true })
  currency!: string | null;

  @Field(() => String, { nullable: true })
  category!: string | null;

  @Field(() => Channel, { nullable: true })
  channel!: Channel | null;

  @Field(() => GraphQLJSONObject)
  properties!: Record<string, unknown>;
}

export const EventConnection = createConnectionType('Event', CustomerEventType);

@ObjectType()
export class RecordEventsResult {
  @Field(() => Int)
  recorded!: number;

  @Field(() => Int, { description: 'Events whose externalId was already recorded' })
  duplicates!: number;

  @Field(() => Int, {
    description: 'Tags trigger rules applied to these customers in the same transaction',
  })
  triggered!: number;
}
