import { ValidateNested } from 'class-validator';
import { ArgsType, Field } from 'type-graphql';
import { PageArgs } from '../common/connection.type.js';
import { TagFilter } from './taxonomy.input.js';

@ArgsType()
export class TagsArgs extends PageArgs {
  @Field(() => TagFilter, { nullable: true })
  @ValidateNested()
  filter?: TagFilter | null;
}
