import { GraphQLJSON } from 'graphql-scalars';
import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType('FeatureValue')
export class FeatureValueType {
  @Field(() => String)
  name!: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'A number, a category name, or null' })
  value!: number | string | null;
}

@ObjectType('CustomerFeatures', { description: 'Computed features of one customer' })
export class CustomerFeaturesType {
  @Field(() => Int, { description: 'The feature-set version they were computed with' })
  featureSetVersion!: number;

  @Field(() => Date)
  computedAt!: Date;

  @Field(() => [FeatureValueType])
  values!: FeatureValueType[];
}

@ObjectType('FeatureDefinition')
export class FeatureDefinitionType {
  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'numeric or categorical' })
  kind!: string;

  @Field(() => String)
  description!: string;
}

@ObjectType('FeatureSet', { description: 'What is computed per customer, and its version' })
export class FeatureSetType {
  @Field(() => Int)
  version!: number;

  @Field(() => [String], { nullable: true, description: 'Categories with a spend-share feature' })
  spendCategories!: string[] | null;

  @Field(() => [String], {
    nullable: true,
    description:
      'Categories with engagement features (30/90/365-day counts and share); null until the next full refresh fixes them to the top eight by engagement',
  })
  engagementCategories!: string[] | null;

  @Field(() => [FeatureDefinitionType])
  features!: FeatureDefinitionType[];
}
