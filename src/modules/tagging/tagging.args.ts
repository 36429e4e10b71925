import { ArrayMaxSize, ArrayMinSize, MaxLength } from 'class-validator';
import { ArgsType, Field, ID } from 'type-graphql';
import { MAX_PAIRS } from './tagging.service.js';

@ArgsType()
export class TagChangeArgs {
  @Field(() => [ID])
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_PAIRS)
  customerIds!: string[];

  @Field(() => [ID])
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_PAIRS)
  tagIds!: string[];

  @Field(() => String, { nullable: true })
  @MaxLength(2000)
  note?: string | null;
}
