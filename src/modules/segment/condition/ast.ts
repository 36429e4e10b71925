/**
 * The condition language's typed tree. Every node is an object with exactly one member, named
 * after its kind, so a tree is plain JSON, mirrors the GraphQL `ConditionInput` member for member
 * (a validation path like `and[2].feature.value` means the same in both), and has one spelling.
 *
 * Semantics shared by the SQL compiler and the TypeScript evaluator:
 * - A comparison whose value is missing (null column, absent attribute, attribute of another JSON
 *   type than the literal, no features row, null feature) is false — `!=` and `not in` included,
 *   so `region != "x"` does not match customers without a region. `NOT` of such a comparison is
 *   true: every predicate is two-valued, so NOT is plain negation in both SQL and TypeScript.
 * - Strings compare by code point (SQL `collate "C"`), case-sensitively; `contains` and
 *   `starts with` are case-sensitive too. Attribute strings — and so ISO dates stored as
 *   attributes — compare lexically, as in the customers filter.
 * - Timestamp fields compare with ISO dates (`2026-01-31`, read as UTC) or ISO date-times with an
 *   explicit offset.
 * - `category` matches tags of the category or any of its subcategories.
 * - Event windows are the last `withinDays × 24` hours up to now, both ends inclusive; events in the
 *   future do not count.
 */

export const CONDITION_KINDS = [
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
] as const;
export type ConditionKind = (typeof CONDITION_KINDS)[number];

/** Profile columns a condition may read, and how their values compare. Also the SQL whitelist. */
export const PROFILE_FIELDS = {
  name: 'text',
  email: 'text',
  phone: 'text',
  gender: 'text',
  birth_year: 'integer',
  region: 'text',
  city: 'text',
  industry: 'text',
  company_size: 'integer',
  lifecycle_stage: 'text',
  external_id: 'text',
  created_at: 'timestamp',
  updated_at: 'timestamp',
} as const;
export type ProfileFieldName = keyof typeof PROFILE_FIELDS;
export type ProfileFieldType = (typeof PROFILE_FIELDS)[ProfileFieldName];

export function isProfileField(name: string): name is ProfileFieldName {
  return Object.hasOwn(PROFILE_FIELDS, name);
}

export const COMPARISON_OPS = ['EQ', 'NE', 'LT', 'LTE', 'GT', 'GTE'] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];
export const OPERATORS = [
  ...COMPARISON_OPS,
  'BETWEEN',
  'IN',
  'NOT_IN',
  'EXISTS',
  'CONTAINS',
  'STARTS_WITH',
] as const;
export type Operator = (typeof OPERATORS)[number];

export type Scalar = string | number | boolean;

/** What a field, attribute or feature is compared with; which operands fit depends on the target. */
export type Comparison =
  | { op: ComparisonOp; value: Scalar }
  | { op: 'BETWEEN'; low: number | string; high: number | string }
  | { op: 'IN' | 'NOT_IN'; values: Scalar[] }
  | { op: 'EXISTS' }
  | { op: 'CONTAINS' | 'STARTS_WITH'; value: string };

export type FieldComparison = { name: ProfileFieldName } & Comparison;
export type AttributeComparison = { key: string } & Comparison;
/** Features compare with numbers only (comparison operators and BETWEEN). */
export type FeatureComparison = { name: string } & Comparison;

export type TagMatch =
  { has: string } | { anyOf: string[] } | { allOf: string[] } | { noneOf: string[] };

/** "count(events of `type` [in `category`] within the last `withinDays` days) `op` `count`". */
export interface EventCount {
  /** Omitted: any type. */
  type?: string;
  category?: string;
  withinDays: number;
  op: ComparisonOp;
  count: number;
}

/** Membership in a cluster of the ACTIVE model version, by cluster id or by index. */
export type ClusterRef = { id: string } | { index: number };

export type Condition =
  | { and: Condition[] }
  | { or: Condition[] }
  | { not: Condition }
  | { tag: TagMatch }
  | { category: string }
  | { field: FieldComparison }
  | { attribute: AttributeComparison }
  | { feature: FeatureComparison }
  | { events: EventCount }
  | { cluster: ClusterRef }
  | { segment: string };

/** The saved condition of a segment key, or undefined when there is no such segment. */
export type SegmentResolver = (key: string) => Condition | undefined;

type Payload<K extends ConditionKind> = Extract<Condition, Record<K, unknown>>[K];

/** One handler per kind: adding a kind fails type-checking wherever a tree is interpreted. */
export type ConditionVisitor<R> = { [K in ConditionKind]: (payload: Payload<K>) => R };

export function visitCondition<R>(condition: Condition, visitor: ConditionVisitor<R>): R {
  const kind = Object.keys(condition)[0] as ConditionKind;
  const handler = visitor[kind] as (payload: unknown) => R;
  return handler((condition as Record<ConditionKind, unknown>)[kind]);
}

/** Limits that keep a condition readable and its SQL plannable. */
export const LIMITS = {
  depth: 20,
  predicates: 100,
  /** After inlining referenced segments. */
  expandedPredicates: 1000,
  listItems: 500,
  textLength: 1000,
  withinDays: 36_500,
  eventCount: 1_000_000,
} as const;
