import { ArrayMaxSize } from 'class-validator';
import { ArgsType, Field } from 'type-graphql';
import { PageArgs } from '../common/connection.type.js';
import { RunStatus } from '../model-registry/model-version.entity.js';
import { RunKind } from './run.repository.js';

@ArgsType()
export class RunsArgs extends PageArgs {
  @Field(() => RunKind, { nullable: true, description: 'Default: every kind' })
  kind?: RunKind | null;

  @Field(() => [RunStatus], { nullable: true, description: 'Default: any status' })
  @ArrayMaxSize(10)
  status?: RunStatus[] | null;
}
