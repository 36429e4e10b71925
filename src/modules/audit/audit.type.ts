import { Length, ValidateNested } from 'class-validator';
import { GraphQLJSONObject } from 'graphql-scalars';
import { ArgsType, Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { PageArgs, createConnectionType } from '../common/connection.type.js';
import { ActorKind } from './audit-entry.entity.js';

registerEnumType(ActorKind, {
  name: 'ActorKind',
  description: 'API_KEY: a request; CLI: a person at the command line; SYSTEM: the server itself',
});

@ObjectType('AuditEntry', { description: 'One change (or read of personal data), as it happened' })
export class AuditEntryType {
  @Field(() => ID)
  id!: string;

  @Field(() => Date)
  at!: Date;

  @Field(() => ID, { nullable: true, description: 'The API key; null for the CLI and the server' })
  actorKeyId!: string | null;

  @Field(() => String, { description: 'The key’s name, or the OS user who ran the CLI' })
  actorName!: string;

  @Field(() => ActorKind)
  actorKind!: ActorKind;

  @Field(() => String, {
    description: 'The mutation (updateTag), the CLI command (cli:import), or READ_PERSONAL_DATA',
  })
  operation!: string;

  @Field(() => String, { nullable: true, description: 'TAG, CUSTOMER, RULE, SEGMENT, API_KEY…' })
  targetType!: string | null;

  @Field(() => [String], { description: 'Ids of the targets; for bulk work a sample' })
  targetIds!: string[];

  @Field(() => GraphQLJSONObject, {
    description:
      'Changed fields before and after, or counts (and sample ids) for bulk work; never secrets or personal values',
  })
  change!: Record<string, unknown>;
}

export const AuditEntryConnection = createConnectionType('AuditEntry', AuditEntryType);

@InputType()
export class AuditLogFilter {
  @Field(() => ID, { nullable: true })
  actorKeyId?: string | null;

  @Field(() => String, { nullable: true })
  @Length(1, 200)
  operation?: string | null;

  @Field(() => String, { nullable: true })
  @Length(1, 200)
  targetType?: string | null;

  @Field(() => String, { nullable: true, description: 'Entries naming this id among targetIds' })
  @Length(1, 200)
  targetId?: string | null;

  @Field(() => Date, { nullable: true, description: 'Inclusive' })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Exclusive' })
  to?: Date | null;
}

@ArgsType()
export class AuditLogArgs extends PageArgs {
  @Field(() => AuditLogFilter, { nullable: true })
  @ValidateNested()
  filter?: AuditLogFilter | null;
}
