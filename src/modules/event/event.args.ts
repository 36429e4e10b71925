import { ValidateNested } from 'class-validator';
import { ArgsType, Field } from 'type-graphql';
import { PageArgs } from '../common/connection.type.js';
import { EventFilter } from './event.input.js';

@ArgsType()
export class CustomerEventsArgs extends PageArgs {
  @Field(() => EventFilter, { nullable: true })
  @ValidateNested()
  filter?: EventFilter | null;
}
