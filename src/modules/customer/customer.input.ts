import {
  ArrayMaxSize,
  IsEmail,
  IsInt,
  Length,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { GraphQLJSON, GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, registerEnumType } from 'type-graphql';
import type { Attributes, AttributeValue } from './customer.entity.js';

export enum ProfileField {
  GENDER = 'gender',
  BIRTH_YEAR = 'birth_year',
  REGION = 'region',
  CITY = 'city',
  INDUSTRY = 'industry',
  COMPANY_SIZE = 'company_size',
  LIFECYCLE_STAGE = 'lifecycle_stage',
}

export enum ComparisonOperator {
  EQ = 'EQ',
  NE = 'NE',
  LT = 'LT',
  LTE = 'LTE',
  GT = 'GT',
  GTE = 'GTE',
  EXISTS = 'EXISTS',
}

export enum CustomerOrderField {
  NAME = 'name',
  CREATED_AT = 'created_at',
  UPDATED_AT = 'updated_at',
}

export enum OrderDirection {
  ASC = 'asc',
  DESC = 'desc',
}

registerEnumType(ProfileField, { name: 'ProfileField' });
registerEnumType(ComparisonOperator, { name: 'ComparisonOperator' });
registerEnumType(CustomerOrderField, { name: 'CustomerOrderField' });
registerEnumType(OrderDirection, { name: 'OrderDirection' });

@InputType({ description: 'Omitted fields keep their stored value; null clears a field' })
export class CustomerInput {
  @Field(() => String)
  @Length(1, 200)
  externalId!: string;

  @Field(() => String, { nullable: true })
  @MaxLength(200)
  name?: string | null;

  @Field(() => String, { nullable: true })
  @IsEmail()
  @MaxLength(320)
  email?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(50)
  phone?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(50)
  gender?: string | null;

  @Field(() => Int, { nullable: true })
  @IsInt()
  @Min(1900)
  @Max(2100)
  birthYear?: number | null;

  @Field(() => String, { nullable: true })
  @MaxLength(100)
  region?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(100)
  city?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(100)
  industry?: string | null;

  @Field(() => Int, { nullable: true })
  @IsInt()
  @Min(0)
  companySize?: number | null;

  @Field(() => String, { nullable: true })
  @MaxLength(50)
  lifecycleStage?: string | null;

  @Field(() => Date, {
    nullable: true,
    description:
      'When the customer became known to the business (sign-up, first order); tenure counts from here',
  })
  firstSeenAt?: Date | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Merged key by key into the stored traits; a key set to null is removed',
  })
  attributes?: Attributes | null;
}

@InputType({ description: 'Customers holding all of / any of / none of these tags' })
export class TagMatch {
  @Field(() => [ID], { nullable: true })
  @ArrayMaxSize(50)
  allOf?: string[] | null;

  @Field(() => [ID], { nullable: true })
  @ArrayMaxSize(500)
  anyOf?: string[] | null;

  @Field(() => [ID], { nullable: true })
  @ArrayMaxSize(500)
  noneOf?: string[] | null;
}

@InputType()
export class ProfileCondition {
  @Field(() => ProfileField)
  field!: ProfileField;

  @Field(() => String, { nullable: true })
  @MaxLength(200)
  equals?: string | null;

  @Field(() => [String], { nullable: true })
  @ArrayMaxSize(500)
  in?: string[] | null;
}

@InputType()
export class AttributeCondition {
  @Field(() => String)
  @Length(1, 100)
  key!: string;

  @Field(() => ComparisonOperator)
  op!: ComparisonOperator;

  @Field(() => GraphQLJSON, {
    nullable: true,
    description: 'A number, string (ISO dates compare as dates) or boolean; omitted for EXISTS',
  })
  value?: AttributeValue;
}

@InputType()
export class CustomerFilter {
  @Field(() => TagMatch, { nullable: true })
  @ValidateNested()
  tags?: TagMatch | null;

  @Field(() => ID, {
    nullable: true,
    description: 'Customers holding any tag of this category or its subcategories',
  })
  tagCategoryId?: string | null;

  @Field(() => [ProfileCondition], { nullable: true })
  @ValidateNested({ each: true })
  @ArrayMaxSize(20)
  profile?: ProfileCondition[] | null;

  @Field(() => [AttributeCondition], { nullable: true })
  @ValidateNested({ each: true })
  @ArrayMaxSize(20)
  attributes?: AttributeCondition[] | null;

  @Field(() => String, { nullable: true, description: 'Free text on name and email' })
  @MaxLength(200)
  search?: string | null;
}

@InputType()
export class CustomerOrder {
  @Field(() => CustomerOrderField, { defaultValue: CustomerOrderField.CREATED_AT })
  field: CustomerOrderField = CustomerOrderField.CREATED_AT;

  @Field(() => OrderDirection, { defaultValue: OrderDirection.ASC })
  direction: OrderDirection = OrderDirection.ASC;
}
