import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { createConnectionType } from '../common/connection.type.js';
import { RunStatus } from '../model-registry/model-version.entity.js';
import { RunKind } from './run.repository.js';

registerEnumType(RunKind, {
  name: 'RunKind',
  description: 'TRAIN: modelRun(id); SUGGEST: suggestionRun(id); RULES: ruleRun(id)',
});

@ObjectType('RunProgress')
export class RunProgressType {
  @Field(() => String, { description: 'e.g. features, clustering, training, scoring, merging' })
  phase!: string;

  @Field(() => Int)
  done!: number;

  @Field(() => Int)
  total!: number;

  @Field(() => String, { nullable: true, description: 'e.g. the epoch’s loss' })
  detail?: string | null;
}

@ObjectType('Run', {
  description: 'A run of any kind on the job queue; its kind’s own query has the details',
})
export class RunType {
  @Field(() => RunKind)
  kind!: RunKind;

  @Field(() => ID, { description: 'Unique within its kind' })
  id!: string;

  @Field(() => RunStatus)
  status!: RunStatus;

  @Field(() => String, { nullable: true })
  createdBy!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When a worker first took it' })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;

  @Field(() => Int, {
    description:
      'Attempts started: a run whose worker was lost is tried again (TAGWISE_RUN_ATTEMPTS)',
  })
  attempt!: number;

  @Field(() => String, {
    nullable: true,
    description: 'host:pid of the worker process that holds (or last held) it',
  })
  worker!: string | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When cancelRun asked it to stop; a RUNNING run ends CANCELLED shortly after',
  })
  cancelRequestedAt!: Date | null;

  @Field(() => RunProgressType, {
    nullable: true,
    description: 'The latest phase and its done/total; rule runs report only when finished',
  })
  progress!: RunProgressType | null;

  @Field(() => String, {
    nullable: true,
    description: 'Why it FAILED (e.g. "worker lost"), or "cancelled"',
  })
  error!: string | null;
}

export const RunConnection = createConnectionType('Run', RunType);
