import {
  PROFILE_FIELDS,
  visitCondition,
  type Comparison,
  type Condition,
  type EventCount,
  type ProfileFieldName,
  type Scalar,
  type SegmentResolver,
  type TagMatch,
} from './ast.js';
import { ConditionError } from './errors.js';
import { inlineSegments } from './segments.js';
import { parseIsoTimestamp, shapeIssues } from './shape.js';

/** What the evaluator knows of one customer; it mirrors the rows the SQL reads. */
export interface CustomerSnapshot {
  /** Profile columns by name; timestamps as Dates. */
  profile: Partial<Record<ProfileFieldName, string | number | Date | null>>;
  attributes: Readonly<Record<string, unknown>>;
  /** Held tags, each with its category key followed by the keys of the category's ancestors. */
  tags: readonly { key: string; categories: readonly string[] }[];
  /** Feature values computed with the current feature set; null when there are none. */
  features: Readonly<Record<string, unknown>> | null;
  events: readonly { type: string; category: string | null; occurredAt: Date }[];
  /** The customer's cluster in the ACTIVE model version. */
  cluster: { id: string; index: number } | null;
}

export interface EvaluateContext {
  /** The instant event windows end at. */
  now: Date;
  resolveSegment?: SegmentResolver;
}

const DAY_MS = 86_400_000;

/**
 * Evaluates a condition on one in-memory customer with the same semantics as compileCondition
 * (see ast.ts): for previews, tests and tagging a single customer without a query.
 * @throws ConditionError when the tree is ill-formed or a segment is unknown or cyclic
 */
export function evaluateCondition(
  tree: Condition,
  customer: CustomerSnapshot,
  context: EvaluateContext,
): boolean {
  const issues = shapeIssues(tree);
  if (issues.length) throw new ConditionError(issues);
  return evaluate(inlineSegments(tree, context.resolveSegment), customer, context.now.getTime());
}

function evaluate(condition: Condition, customer: CustomerSnapshot, now: number): boolean {
  const recurse = (c: Condition) => evaluate(c, customer, now);
  return visitCondition<boolean>(condition, {
    and: (operands) => operands.every(recurse),
    or: (operands) => operands.some(recurse),
    not: (operand) => !recurse(operand),
    tag: (match) => holdsTags(customer, match),
    category: (key) => customer.tags.some((t) => t.categories.includes(key)),
    field: ({ name, ...comparison }) => {
      const value = customer.profile[name];
      const type = PROFILE_FIELDS[name];
      if (type === 'timestamp') {
        return compare(value instanceof Date ? value.getTime() : undefined, comparison, (v) =>
          parseIsoTimestamp(String(v)),
        );
      }
      const typed = typeof value === (type === 'text' ? 'string' : 'number');
      return compare(typed ? (value as Scalar) : undefined, comparison);
    },
    attribute: ({ key, ...comparison }) => {
      const value = Object.hasOwn(customer.attributes, key) ? customer.attributes[key] : undefined;
      if (comparison.op === 'EXISTS') return value !== null && value !== undefined;
      return compare(
        typeof value === literalType(comparison) ? (value as Scalar) : undefined,
        comparison,
      );
    },
    feature: ({ name, ...comparison }) => {
      const features = customer.features;
      const value = features && Object.hasOwn(features, name) ? features[name] : undefined;
      return compare(typeof value === 'number' ? value : undefined, comparison);
    },
    events: (events) => countMatches(countEvents(customer, events, now), events),
    cluster: (ref) =>
      customer.cluster !== null &&
      ('id' in ref ? customer.cluster.id === ref.id : customer.cluster.index === ref.index),
    segment: () => {
      throw new Error('segments are inlined before evaluating');
    },
  });
}

function holdsTags(customer: CustomerSnapshot, match: TagMatch): boolean {
  const held = (key: string) => customer.tags.some((t) => t.key === key);
  if ('has' in match) return held(match.has);
  if ('anyOf' in match) return match.anyOf.some(held);
  if ('allOf' in match) return match.allOf.every(held);
  return !match.noneOf.some(held);
}

function literalType(comparison: Exclude<Comparison, { op: 'EXISTS' }>): string {
  switch (comparison.op) {
    case 'BETWEEN':
      return typeof comparison.low;
    case 'IN':
    case 'NOT_IN':
      return typeof comparison.values[0];
    default:
      return typeof comparison.value;
  }
}

/** Code-point order, as PostgreSQL's "C" collation compares UTF-8. */
export function compareText(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return Number(i < a.length) - Number(j < b.length);
}

function order(a: Scalar, b: Scalar): number {
  if (typeof a === 'string' && typeof b === 'string') return compareText(a, b);
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : a < b ? -1 : 1;
  return a === b ? 0 : 1;
}

/**
 * `value` is undefined when missing or of another type than the operands; every comparison with
 * it (EXISTS included) is false. `literal` converts operands to the value's representation (timestamps).
 */
function compare(
  value: Scalar | undefined,
  comparison: Comparison,
  literal: (operand: Scalar) => Scalar | undefined = (operand) => operand,
): boolean {
  if (value === undefined) return false;
  const against = (operand: Scalar) => {
    const converted = literal(operand);
    return converted === undefined ? NaN : order(value, converted);
  };
  switch (comparison.op) {
    case 'EXISTS':
      return true;
    case 'EQ':
      return against(comparison.value) === 0;
    case 'NE':
      return against(comparison.value) !== 0;
    case 'LT':
      return against(comparison.value) < 0;
    case 'LTE':
      return against(comparison.value) <= 0;
    case 'GT':
      return against(comparison.value) > 0;
    case 'GTE':
      return against(comparison.value) >= 0;
    case 'BETWEEN':
      return against(comparison.low) >= 0 && against(comparison.high) <= 0;
    case 'IN':
      return comparison.values.some((v) => against(v) === 0);
    case 'NOT_IN':
      return comparison.values.every((v) => against(v) !== 0);
    case 'CONTAINS':
      return typeof value === 'string' && value.includes(comparison.value);
    case 'STARTS_WITH':
      return typeof value === 'string' && value.startsWith(comparison.value);
  }
}

function countEvents(customer: CustomerSnapshot, events: EventCount, now: number): number {
  const from = now - events.withinDays * DAY_MS;
  return customer.events.filter(
    (e) =>
      (events.type === undefined || e.type === events.type) &&
      (events.category === undefined || e.category === events.category) &&
      e.occurredAt.getTime() >= from &&
      e.occurredAt.getTime() <= now,
  ).length;
}

function countMatches(n: number, { op, count }: EventCount): boolean {
  switch (op) {
    case 'EQ':
      return n === count;
    case 'NE':
      return n !== count;
    case 'LT':
      return n < count;
    case 'LTE':
      return n <= count;
    case 'GT':
      return n > count;
    case 'GTE':
      return n >= count;
  }
}
