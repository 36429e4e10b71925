import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { createConnectionType } from '../common/connection.type.js';
import { ModelStatus, RunStatus } from './model-version.entity.js';

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

registerEnumType(RunStatus, { name: 'RunStatus' });

@ObjectType('ModelRun', { description: 'A training run on the job queue' })
export class ModelRunType {
  @Field(() => ID)
  id!: string;

  @Field(() => RunStatus)
  status!: RunStatus;

  @Field(() => GraphQLJSONObject)
  params!: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { nullable: true, description: '{ phase, done, total }' })
  progress!: Record<string, unknown> | null;

  @Field(() => String, { nullable: true })
  error!: string | null;

  @Field(() => String, { nullable: true })
  createdBy!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;
}

@InputType()
export class TrainModelsInput {
  @Field(() => Int, {
    nullable: true,
    description: 'Default 42; the same seed and data give the same model',
  })
  seed?: number | null;

  @Field(() => [String], { nullable: true, description: 'Tag keys; default: suggestable tags' })
  tags?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'Make the new version ACTIVE when done' })
  promote?: boolean | null;
}

export const ModelVersionConnection = createConnectionType('ModelVersion', ModelVersionType);
