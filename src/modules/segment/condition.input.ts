import {
  ArrayMaxSize,
  IsInt,
  Length,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
  type ValidationArguments,
} from 'class-validator';
import { GraphQLJSON } from 'graphql-scalars';
import { Field, ID, InputType, Int, registerEnumType } from 'type-graphql';
import { LIMITS, type Condition } from './condition/ast.js';
import { ConditionError, joinPath, type ConditionIssue } from './condition/errors.js';
import { shapeIssues } from './condition/shape.js';

export enum ConditionOperator {
  EQ = 'EQ',
  NE = 'NE',
  LT = 'LT',
  LTE = 'LTE',
  GT = 'GT',
  GTE = 'GTE',
  BETWEEN = 'BETWEEN',
  IN = 'IN',
  NOT_IN = 'NOT_IN',
  EXISTS = 'EXISTS',
  CONTAINS = 'CONTAINS',
  STARTS_WITH = 'STARTS_WITH',
}

/** Every profile column a condition may read (ProfileField lists only the filterable traits). */
export enum ConditionField {
  NAME = 'name',
  EMAIL = 'email',
  PHONE = 'phone',
  GENDER = 'gender',
  BIRTH_YEAR = 'birth_year',
  REGION = 'region',
  CITY = 'city',
  INDUSTRY = 'industry',
  COMPANY_SIZE = 'company_size',
  LIFECYCLE_STAGE = 'lifecycle_stage',
  EXTERNAL_ID = 'external_id',
  CREATED_AT = 'created_at',
  UPDATED_AT = 'updated_at',
}

registerEnumType(ConditionOperator, { name: 'ConditionOperator' });
registerEnumType(ConditionField, { name: 'ConditionField' });

const CONDITION_MEMBERS = [
  'and',
  'or',
  'not',
  'tag',
  'category',
  'field',
  'attribute',
  'feature',
  'events',
  'cluster',
  'segment',
] as const satisfies readonly (keyof ConditionInput)[];
const TAG_MEMBERS = [
  'has',
  'anyOf',
  'allOf',
  'noneOf',
] as const satisfies readonly (keyof TagConditionInput)[];

function setMembers<T extends object>(input: T, members: readonly (keyof T)[]): (keyof T)[] {
  return members.filter((m) => input[m] !== null && input[m] !== undefined);
}

/** Fails on each set member when another one is set too, so the error names a member's path. */
function IsOnlyMemberSet(members: readonly string[]): PropertyDecorator {
  const others = (args: ValidationArguments) =>
    setMembers(args.object as Record<string, unknown>, members);
  return ValidateBy({
    name: 'isOnlyMemberSet',
    validator: {
      validate: (_value: unknown, args?: ValidationArguments) => !args || others(args).length <= 1,
      defaultMessage: (args?: ValidationArguments) =>
        `set exactly one of ${members.join(', ')}, got ${args ? others(args).join(', ') : 'several'}`,
    },
  });
}

const OnlyCondition = () => IsOnlyMemberSet(CONDITION_MEMBERS);
const OnlyTagMatch = () => IsOnlyMemberSet(TAG_MEMBERS);

@InputType({ description: 'Exactly one of has, anyOf, allOf, noneOf (tag keys)' })
export class TagConditionInput {
  @Field(() => String, { nullable: true })
  @OnlyTagMatch()
  @Length(1, LIMITS.textLength)
  has?: string | null;

  @Field(() => [String], { nullable: true })
  @OnlyTagMatch()
  @ArrayMaxSize(LIMITS.listItems)
  anyOf?: string[] | null;

  @Field(() => [String], { nullable: true })
  @OnlyTagMatch()
  @ArrayMaxSize(LIMITS.listItems)
  allOf?: string[] | null;

  @Field(() => [String], { nullable: true })
  @OnlyTagMatch()
  @ArrayMaxSize(LIMITS.listItems)
  noneOf?: string[] | null;
}

/** The operands of a comparison; each subclass names what is compared. Never used on its own. */
@InputType()
export abstract class ComparisonInput {
  @Field(() => ConditionOperator)
  op!: ConditionOperator;

  @Field(() => GraphQLJSON, {
    nullable: true,
    description: 'EQ … GTE, CONTAINS, STARTS_WITH: a number, string or boolean',
  })
  value?: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: 'BETWEEN: the inclusive lower bound' })
  low?: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: 'BETWEEN: the inclusive upper bound' })
  high?: unknown;

  @Field(() => [GraphQLJSON], { nullable: true, description: 'IN, NOT_IN' })
  @ArrayMaxSize(LIMITS.listItems)
  values?: unknown[] | null;
}

@InputType({ description: 'A profile column compared with literals of its type' })
export class FieldConditionInput extends ComparisonInput {
  @Field(() => ConditionField)
  name!: ConditionField;
}

@InputType({
  description: 'A trait; the literal decides how it compares (number, string, boolean)',
})
export class AttributeConditionInput extends ComparisonInput {
  @Field(() => String)
  @Length(1, LIMITS.textLength)
  key!: string;
}

@InputType({ description: 'A numeric feature of the current feature set, e.g. spend_365d' })
export class FeatureConditionInput extends ComparisonInput {
  @Field(() => String)
  @Length(1, LIMITS.textLength)
  name!: string;
}

@InputType({
  description: 'How many events of a type (and category) the last withinDays days hold',
})
export class EventConditionInput {
  @Field(() => String, { nullable: true, description: 'An UPPER_SNAKE event type; omitted: any' })
  @Length(1, 100)
  type?: string | null;

  @Field(() => String, { nullable: true })
  @Length(0, LIMITS.textLength)
  category?: string | null;

  @Field(() => Int)
  @IsInt()
  @Min(1)
  @Max(LIMITS.withinDays)
  withinDays!: number;

  @Field(() => ConditionOperator, { defaultValue: ConditionOperator.GTE })
  op: ConditionOperator = ConditionOperator.GTE;

  @Field(() => Int, { defaultValue: 1 })
  @IsInt()
  @Min(0)
  @Max(LIMITS.eventCount)
  count: number = 1;
}

@InputType({ description: 'A cluster of the ACTIVE model version: id or index' })
export class ClusterConditionInput {
  @Field(() => ID, { nullable: true })
  id?: string | null;

  @Field(() => Int, { nullable: true })
  @IsInt()
  @Min(0)
  index?: number | null;
}

@InputType({ description: 'A condition on customers: set exactly one member' })
export class ConditionInput {
  @Field(() => [ConditionInput], { nullable: true })
  @OnlyCondition()
  @ValidateNested({ each: true })
  @ArrayMaxSize(LIMITS.predicates)
  and?: ConditionInput[] | null;

  @Field(() => [ConditionInput], { nullable: true })
  @OnlyCondition()
  @ValidateNested({ each: true })
  @ArrayMaxSize(LIMITS.predicates)
  or?: ConditionInput[] | null;

  @Field(() => ConditionInput, { nullable: true })
  @OnlyCondition()
  @ValidateNested()
  not?: ConditionInput | null;

  @Field(() => TagConditionInput, { nullable: true })
  @OnlyCondition()
  @ValidateNested()
  tag?: TagConditionInput | null;

  @Field(() => String, { nullable: true, description: 'A tag category key (subcategories count)' })
  @OnlyCondition()
  @Length(1, LIMITS.textLength)
  category?: string | null;

  @Field(() => FieldConditionInput, { nullable: true })
  @OnlyCondition()
  @ValidateNested()
  field?: FieldConditionInput | null;

  @Field(() => AttributeConditionInput, { nullable: true })
  @OnlyCondition()
  @ValidateNested()
  attribute?: AttributeConditionInput | null;

  @Field(() => FeatureConditionInput, { nullable: true })
  @OnlyCondition()
  @ValidateNested()
  feature?: FeatureConditionInput | null;

  @Field(() => EventConditionInput, { nullable: true })
  @OnlyCondition()
  @ValidateNested()
  events?: EventConditionInput | null;

  @Field(() => ClusterConditionInput, { nullable: true })
  @OnlyCondition()
  @ValidateNested()
  cluster?: ClusterConditionInput | null;

  @Field(() => String, { nullable: true, description: 'A saved segment key' })
  @OnlyCondition()
  @Length(1, LIMITS.textLength)
  segment?: string | null;
}

/** The members that are set, as a plain object: the tree's shape checks do the rest. */
function present<T extends object>(
  input: T,
  members: readonly (keyof T)[],
): Record<string, unknown> {
  return Object.fromEntries(setMembers(input, members).map((m) => [m, input[m]]));
}

const COMPARISON_MEMBERS = ['op', 'value', 'low', 'high', 'values'] as const;

/**
 * The tree of a GraphQL condition. A one-operand `and`/`or` becomes its operand (what a condition
 * builder sends for a group of one).
 * @throws ConditionError naming every problem by its input path, e.g. `definition.and[2].feature`
 */
export function conditionFromInput(input: ConditionInput, path = 'definition'): Condition {
  const issues: ConditionIssue[] = [];
  const tree = convert(input, path, issues);
  if (!issues.length)
    issues.push(...shapeIssues(tree).map((i) => ({ ...i, path: joinPath(path, i.path) })));
  if (issues.length) throw new ConditionError(issues);
  return tree as Condition;
}

function convert(input: ConditionInput, path: string, issues: ConditionIssue[]): unknown {
  const members = setMembers(input, CONDITION_MEMBERS);
  const [member] = members;
  if (members.length !== 1 || !member) {
    issues.push({
      path,
      message: `set exactly one of ${CONDITION_MEMBERS.join(', ')}, got ${members.join(', ') || 'none'}`,
    });
    return undefined;
  }
  const at = joinPath(path, member);
  if (member === 'and' || member === 'or') {
    const operands = input[member]!;
    if (operands.length === 0) {
      issues.push({ path: at, message: 'expected at least one condition' });
      return undefined;
    }
    if (operands.length === 1) return convert(operands[0]!, `${at}[0]`, issues);
    return { [member]: operands.map((o, i) => convert(o, `${at}[${i}]`, issues)) };
  }
  if (member === 'not') return { not: convert(input.not!, at, issues) };
  const leaf = { [member]: payloadOf(input, member) };
  issues.push(...shapeIssues(leaf).map((i) => ({ ...i, path: joinPath(path, i.path) })));
  return leaf;
}

function payloadOf(
  input: ConditionInput,
  member: Exclude<(typeof CONDITION_MEMBERS)[number], 'and' | 'or' | 'not'>,
): unknown {
  switch (member) {
    case 'tag':
      return present(input.tag!, TAG_MEMBERS);
    case 'field':
      return { name: input.field!.name, ...present(input.field!, COMPARISON_MEMBERS) };
    case 'attribute':
      return { key: input.attribute!.key, ...present(input.attribute!, COMPARISON_MEMBERS) };
    case 'feature':
      return { name: input.feature!.name, ...present(input.feature!, COMPARISON_MEMBERS) };
    case 'events':
      return present(input.events!, ['type', 'category', 'withinDays', 'op', 'count']);
    case 'cluster':
      return present(input.cluster!, ['id', 'index']);
    case 'category':
    case 'segment':
      return input[member];
  }
}
