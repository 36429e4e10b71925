import { ArrayMaxSize, ArrayMinSize, IsHexColor, Length, MaxLength } from 'class-validator';
import { ArgsType, Field, ID, InputType } from 'type-graphql';
import { CategoryKind } from './tag-category.entity.js';
import { TagStatus } from './tag.entity.js';

@InputType()
export class CreateTagCategoryInput {
  @Field(() => String, { nullable: true, description: 'Defaults to the normalized name' })
  @Length(1, 64)
  key?: string | null;

  @Field(() => String)
  @Length(1, 100)
  name!: string;

  @Field(() => String, { nullable: true })
  @MaxLength(2000)
  description?: string | null;

  @Field(() => CategoryKind)
  kind!: CategoryKind;

  @Field(() => ID, { nullable: true })
  parentId?: string | null;

  @Field(() => Boolean, { defaultValue: false })
  exclusive: boolean = false;

  @Field(() => Boolean, { defaultValue: false })
  suggestable: boolean = false;

  @Field(() => [String], {
    defaultValue: [],
    description:
      'Departments that may see it; empty: every key. Other departments’ keys (ADMIN excepted) cannot see it anywhere',
  })
  departments!: string[];
}

@InputType()
export class CreateTagInput {
  @Field(() => String, { nullable: true, description: 'Defaults to the normalized name' })
  @Length(1, 64)
  key?: string | null;

  @Field(() => String)
  @Length(1, 100)
  name!: string;

  @Field(() => String, { nullable: true })
  @MaxLength(2000)
  description?: string | null;

  @Field(() => String, { nullable: true })
  @IsHexColor()
  color?: string | null;

  @Field(() => ID)
  categoryId!: string;

  @Field(() => Boolean, {
    defaultValue: false,
    description: 'Count holding the tag by a rule or trigger as a training label',
  })
  learnFromRules: boolean = false;

  @Field(() => [String], {
    defaultValue: [],
    description:
      'Departments that may see it; empty: every key. Other departments’ keys (ADMIN excepted) cannot see it anywhere',
  })
  departments!: string[];
}

@InputType()
export class UpdateTagInput {
  @Field(() => String, { nullable: true })
  @Length(1, 64)
  key?: string | null;

  @Field(() => String, { nullable: true })
  @Length(1, 100)
  name?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(2000)
  description?: string | null;

  @Field(() => String, { nullable: true })
  @IsHexColor()
  color?: string | null;

  @Field(() => ID, { nullable: true })
  categoryId?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'Count holding the tag by a rule or trigger as a training label',
  })
  learnFromRules?: boolean | null;

  @Field(() => [String], {
    nullable: true,
    description: 'Replaces the departments that may see it; [] makes it visible to every key',
  })
  departments?: string[] | null;
}

@InputType()
export class TagFilter {
  @Field(() => ID, { nullable: true })
  categoryId?: string | null;

  @Field(() => TagStatus, { nullable: true })
  status?: TagStatus | null;

  @Field(() => String, { nullable: true, description: 'Matches key or name' })
  @MaxLength(100)
  search?: string | null;
}

@ArgsType()
export class MergeTagsArgs {
  @Field(() => [ID])
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  sourceIds!: string[];

  @Field(() => ID)
  targetId!: string;

  @Field(() => String, { nullable: true })
  @MaxLength(2000)
  note?: string | null;
}

@ArgsType()
export class RestrictTagCategoryArgs {
  @Field(() => ID)
  id!: string;

  @Field(() => [String], {
    description:
      'Departments that may see the category, its subcategories and their tags; []: every key',
  })
  departments!: string[];
}
