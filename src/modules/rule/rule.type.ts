import { GraphQLJSON } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { createConnectionType } from '../common/connection.type.js';
import { CustomerType } from '../customer/customer.type.js';
import { ConflictKind, ConflictResolution, RuleMode, RuleRunStatus } from './rule.entity.js';
import './rule.input.js';

@ObjectType('Rule', { description: 'A condition that applies (and may retract) a tag' })
export class RuleType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => GraphQLJSON, {
    description:
      'The condition tree, shaped like ConditionInput; operands of comparisons on personal data read *** for keys without the PII permission',
  })
  definition!: unknown;

  @Field(() => RuleMode)
  mode!: RuleMode;

  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => Int, { description: 'Higher runs first and wins exclusive categories' })
  priority!: number;

  @Field(() => Boolean, {
    description: 'Also applied right after events are recorded or imported (source TRIGGER)',
  })
  trigger!: boolean;

  @Field(() => String, { nullable: true })
  createdBy!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

export const RuleConnection = createConnectionType('Rule', RuleType);

@ObjectType({ description: 'What one rule did (or, in a dry run, would do)' })
export class RuleReport {
  @Field(() => ID)
  ruleId!: string;

  @Field(() => String)
  ruleName!: string;

  @Field(() => String)
  tagKey!: string;

  @Field(() => Int, { description: 'Customers matching the condition' })
  matched!: number;

  @Field(() => Int)
  added!: number;

  @Field(() => Int)
  removed!: number;

  @Field(() => Int, { description: 'Matching customers who already held the tag' })
  unchanged!: number;

  @Field(() => Int, {
    description: 'Changes withheld because a reviewer decided otherwise, raised as open conflicts',
  })
  conflicts!: number;

  @Field(() => Int, {
    description:
      'Changes withheld, not raised again: a reviewer’s decision was kept (resolveRuleConflict)',
  })
  // Optional as stored: reports written before conflicts could be resolved lack it (read as 0).
  kept?: number;

  @Field(() => [ID], { description: 'Up to 10 customers who got the tag' })
  sampleAdded!: string[];

  @Field(() => [ID], { description: 'Up to 10 customers who lost the tag' })
  sampleRemoved!: string[];

  @Field(() => Int)
  ms!: number;

  @Field(() => String, { nullable: true, description: 'Why the rule did not run' })
  error?: string | null;
}

@ObjectType('RuleRun', { description: 'One run of all enabled rules' })
export class RuleRunType {
  @Field(() => ID)
  id!: string;

  @Field(() => Boolean, { description: 'Counted, then rolled back: nothing was changed' })
  dryRun!: boolean;

  @Field(() => RuleRunStatus)
  status!: RuleRunStatus;

  @Field(() => String, { description: 'What started it: api, cli, feature-refresh, demo' })
  origin!: string;

  @Field(() => String, { nullable: true })
  createdBy!: string | null;

  @Field(() => [RuleReport], { description: 'Per rule, in the order they ran' })
  reports!: RuleReport[];

  @Field(() => String, { nullable: true })
  error!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;
}

export const RuleRunConnection = createConnectionType('RuleRun', RuleRunType);

@ObjectType('RuleConflict', {
  description: 'A change a rule withheld because a reviewer decided otherwise',
})
export class RuleConflictType {
  @Field(() => ID)
  id!: string;

  @Field(() => ConflictKind)
  kind!: ConflictKind;

  @Field(() => CustomerType)
  customer!: unknown;

  @Field(() => ID, { nullable: true, description: 'The last run that hit it' })
  runId!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { description: 'Later runs hitting the same conflict refresh this' })
  lastSeenAt!: Date;

  @Field(() => ConflictResolution, { nullable: true, description: 'Null while open' })
  resolution!: ConflictResolution | null;

  @Field(() => Date, { nullable: true })
  resolvedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'The name of the key that resolved it' })
  resolvedBy!: string | null;
}

export const RuleConflictConnection = createConnectionType('RuleConflict', RuleConflictType);
