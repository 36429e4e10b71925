import { Length, MaxLength, ValidateNested } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';
import { LIMITS } from './condition/ast.js';
import { ConditionInput } from './condition.input.js';

/** A condition as a tree or as text: exactly one of the two. */
@InputType({ description: 'A condition: the tree (definition) or its text form, not both' })
export class SegmentDefinitionInput {
  @Field(() => ConditionInput, { nullable: true })
  @ValidateNested()
  definition?: ConditionInput | null;

  @Field(() => String, {
    nullable: true,
    description: 'e.g. tag:high-value AND region = "South China" AND NOT event:PURCHASE within 30d',
  })
  @Length(1, LIMITS.textLength * 10)
  text?: string | null;
}

@InputType()
export class CreateSegmentInput extends SegmentDefinitionInput {
  @Field(() => String, { description: 'How conditions reference it: segment:<key>' })
  @Length(1, 64)
  key!: string;

  @Field(() => String)
  @Length(1, 100)
  name!: string;

  @Field(() => String, { nullable: true })
  @MaxLength(2000)
  description?: string | null;
}

@InputType({ description: 'Omitted fields keep their value; the key never changes' })
export class UpdateSegmentInput extends SegmentDefinitionInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  @Length(1, 100)
  name?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(2000)
  description?: string | null;
}
