import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
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

export enum LabelModeEnum {
  KNOWN = 'KNOWN',
  PU = 'PU',
}
registerEnumType(LabelModeEnum, {
  name: 'LabelMode',
  description: 'How a tag was learnt and measured',
  valuesConfig: {
    KNOWN: {
      description:
        'From customers known to hold it and known not to; metrics counted on held-out known labels',
    },
    PU: {
      description:
        'From holders against unlabelled customers (too few known negatives); precision is an estimate from the label frequency',
    },
  },
});

@ObjectType('Interval')
export class IntervalType {
  @Field(() => Float)
  low!: number;

  @Field(() => Float)
  high!: number;
}

@ObjectType('LabelFrequency', {
  description: 'Share of a tag’s holders that carry the label, estimated for PU tags',
})
export class LabelFrequencyType {
  @Field(() => Float)
  value!: number;

  @Field(() => IntervalType)
  interval!: IntervalType;

  @Field(() => [String], {
    nullable: true,
    description: 'Tag keys whose estimates were pooled into value, when they were',
  })
  pooledOver!: string[] | null;
}

@ObjectType('CurvePoint')
export class CurvePointType {
  @Field(() => Float)
  threshold!: number;

  @Field(() => Float, {
    description: 'Counted (KNOWN) or estimated (PU) precision at the threshold',
  })
  precision!: number;

  @Field(() => Float)
  recall!: number;
}

@ObjectType('TagEvaluation', {
  description:
    'How well one tag is learnt, on customers held out from training; every count is one customer, nothing weighted',
})
export class TagEvaluationType {
  @Field(() => String, { description: 'Tag key' })
  tag!: string;

  @Field(() => LabelModeEnum)
  mode!: LabelModeEnum;

  @Field(() => Int, { description: 'Customers holding the tag as a label, at training time' })
  positives!: number;

  @Field(() => Int, { description: 'Customers known not to hold it' })
  negatives!: number;

  @Field(() => Int)
  unlabelled!: number;

  @Field(() => Int, { description: 'Held-out customers the metrics stand on' })
  heldOutCustomers!: number;

  @Field(() => Int, { description: 'Of those, known positives (PU: labelled holders)' })
  heldOutPositives!: number;

  @Field(() => Int, { description: 'Of those, known negatives' })
  heldOutNegatives!: number;

  @Field(() => Float)
  targetPrecision!: number;

  @Field(() => Float, { nullable: true, description: 'Suggested at or above; null: not confident' })
  threshold!: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'KNOWN tags: counted precision at the threshold; null for PU tags',
  })
  precision!: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'PU tags: estimated precision of suggestions at the threshold (see method); null for KNOWN tags',
  })
  estimatedPrecision!: number | null;

  @Field(() => IntervalType, { nullable: true, description: '90 % interval of the precision' })
  precisionInterval!: IntervalType | null;

  @Field(() => Float, { nullable: true })
  recall!: number | null;

  @Field(() => Float, { nullable: true })
  f1!: number | null;

  @Field(() => Float, { nullable: true, description: 'KNOWN tags only' })
  rocAuc!: number | null;

  @Field(() => Float, { nullable: true, description: 'KNOWN tags only (average precision)' })
  prAuc!: number | null;

  @Field(() => Float, { nullable: true, description: 'PU tags only' })
  estimatedRocAuc!: number | null;

  @Field(() => LabelFrequencyType, { nullable: true })
  labelFrequency!: LabelFrequencyType | null;

  @Field(() => Boolean)
  confident!: boolean;

  @Field(() => String, { nullable: true, description: 'Why the tag is not confident, in words' })
  reason!: string | null;

  @Field(() => String, { nullable: true, description: 'Why a tag with some negatives is PU' })
  note!: string | null;

  @Field(() => String, { description: 'How the precision was obtained, in words' })
  method!: string;

  @Field(() => [CurvePointType], { description: 'Precision–recall curve on held-out customers' })
  curve!: CurvePointType[];
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

  @Field(() => Float, {
    nullable: true,
    description: 'Precision each tag’s threshold must reach on held-out customers; default 0.9',
  })
  targetPrecision?: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Share of customers held out for thresholds and metrics; default 0.2',
  })
  testSize?: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Share of customers held out for early stopping, then metrics; default 0.16',
  })
  validationSize?: number | null;
}

export const ModelVersionConnection = createConnectionType('ModelVersion', ModelVersionType);
