import { IsInt, Length, Max, MaxLength, Min } from 'class-validator';
import { Field, ID, InputType, Int, registerEnumType } from 'type-graphql';
import { SegmentDefinitionInput } from '../segment/segment.input.js';
import { ConflictKind, ConflictResolution, RuleMode, RuleRunStatus } from './rule.entity.js';

registerEnumType(RuleMode, {
  name: 'RuleMode',
  valuesConfig: {
    APPLY_ONLY: { description: 'Apply the tag to matching customers; never remove it' },
    APPLY_AND_RETRACT: {
      description: 'Also remove the tag a rule or trigger applied once the customer stops matching',
    },
  },
});
registerEnumType(RuleRunStatus, { name: 'RuleRunStatus' });
registerEnumType(ConflictKind, { name: 'RuleConflictKind' });
registerEnumType(ConflictResolution, {
  name: 'RuleConflictResolution',
  valuesConfig: {
    KEEP_DECISION: {
      description:
        'The reviewer’s decision stands; later runs do not raise the conflict again until the customer’s tag history for the tag (for REPLACE_APPROVED, its category) changes',
    },
    ACCEPT_RULE: {
      description:
        'Make the change the rule wanted (apply, replace or retract its tag), source RULE, attributed to this key',
    },
  },
});

/** The condition is given as `definition` (a tree) or `text`, as for segments. */
@InputType()
export class CreateRuleInput extends SegmentDefinitionInput {
  @Field(() => String)
  @Length(1, 100)
  name!: string;

  @Field(() => String, { nullable: true })
  @MaxLength(2000)
  description?: string | null;

  @Field(() => ID, { description: 'The tag the rule applies' })
  tagId!: string;

  @Field(() => RuleMode, { defaultValue: RuleMode.APPLY_ONLY })
  mode: RuleMode = RuleMode.APPLY_ONLY;

  @Field(() => Boolean, { defaultValue: true })
  enabled: boolean = true;

  @Field(() => Int, {
    defaultValue: 0,
    description: 'Higher runs first and wins exclusive categories',
  })
  @IsInt()
  @Min(-1000)
  @Max(1000)
  priority: number = 0;

  @Field(() => Boolean, {
    defaultValue: false,
    description:
      'Also apply (source TRIGGER) right after recordEvents or an event import, for those customers; the condition must test events',
  })
  trigger: boolean = false;
}

@InputType({ description: 'Omitted fields keep their value' })
export class UpdateRuleInput extends SegmentDefinitionInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  @Length(1, 100)
  name?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(2000)
  description?: string | null;

  @Field(() => ID, { nullable: true })
  tagId?: string | null;

  @Field(() => RuleMode, { nullable: true })
  mode?: RuleMode | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;

  @Field(() => Int, { nullable: true })
  @IsInt()
  @Min(-1000)
  @Max(1000)
  priority?: number | null;

  @Field(() => Boolean, { nullable: true })
  trigger?: boolean | null;
}
