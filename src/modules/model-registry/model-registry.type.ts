import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ModelStatus } from './model-version.entity.js';

registerEnumType(ModelStatus, { name: 'ModelStatus' });

@ObjectType('Cluster', { description: 'A customer segment of a model version' })
export class ClusterType {
  @Field(() => ID)
  id!: string;

  @Field(() => Int)
  index!: number;

  @Field(() => String, { description: 'In words, e.g. "recent · frequent · high spend · wine"' })
  label!: string;

  @Field(() => Int)
  size!: number;

  @Field(() => GraphQLJSONObject, { description: 'Medians, top categories and centroid' })
  profile!: Record<string, unknown>;
}

@ObjectType('ModelVersion')
export class ModelVersionType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  version!: string;

  @Field(() => ModelStatus)
  status!: ModelStatus;

  @Field(() => Int)
  seed!: number;

  @Field(() => String, { description: 'TF.js backend it was trained on' })
  backend!: string;

  @Field(() => GraphQLJSONObject)
  params!: Record<string, unknown>;

  @Field(() => GraphQLJSONObject)
  featureSchema!: Record<string, unknown>;

  @Field(() => GraphQLJSONObject)
  trainingSummary!: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { description: 'Held-out metrics per tag, silhouette' })
  metrics!: Record<string, unknown>;

  @Field(() => String)
  artifactPath!: string;

  @Field(() => String, { nullable: true })
  createdBy!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  promotedAt!: Date | null;
}
