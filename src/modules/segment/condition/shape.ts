import {
  COMPARISON_OPS,
  CONDITION_KINDS,
  isProfileField,
  LIMITS,
  OPERATORS,
  PROFILE_FIELDS,
  type Condition,
  type Operator,
  type ProfileFieldType,
} from './ast.js';
import { ConditionError, joinPath, type ConditionIssue } from './errors.js';

type Target = ProfileFieldType | 'attribute' | 'feature';
type Json = Record<string, unknown>;

const ORDERED: readonly Operator[] = [...COMPARISON_OPS, 'BETWEEN'];
/** The operators each kind of target takes; attributes take whatever fits the literal's type. */
const OPERATORS_OF: Record<Exclude<Target, 'attribute'>, readonly Operator[]> = {
  text: OPERATORS,
  integer: [...ORDERED, 'IN', 'NOT_IN', 'EXISTS'],
  timestamp: [...ORDERED, 'EXISTS'],
  feature: ORDERED,
};
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;
const CLUSTER_ID = /^[1-9]\d{0,17}$/;
/** In u-mode a surrogate class matches only unpaired halves. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** An ISO date (UTC midnight) or date-time with an explicit offset, as epoch milliseconds. */
export function parseIsoTimestamp(text: string): number | undefined {
  const match = ISO_DATE.exec(text);
  if (!match) return undefined;
  const [year, month, day] = match.slice(1, 4).map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC rolls 2026-02-30 over into March; a real date survives the round trip.
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * Everything that makes a value not a condition tree or not compilable: unknown members, wrong
 * operand types, empty lists, out-of-range numbers, size limits. Needs no schema, so the compiler
 * and evaluator run it too; it accepts any JSON, e.g. a stored definition.
 */
export function shapeIssues(value: unknown): ConditionIssue[] {
  const checker = new ShapeChecker();
  checker.condition(value, '', 0);
  if (checker.predicates > LIMITS.predicates) {
    checker.issues.push({
      path: '',
      message: `a condition has at most ${LIMITS.predicates} predicates, got ${checker.predicates}`,
    });
  }
  return checker.issues;
}

/** Checks that JSON (a stored definition, say) is a well-formed condition. */
export function conditionFromJson(value: unknown, prefix = ''): Condition {
  const issues = shapeIssues(value);
  if (issues.length) throw new ConditionError(issues, prefix);
  return value as Condition;
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'string' ? `"${value}"` : `${typeof value} ${String(value)}`;
}

class ShapeChecker {
  readonly issues: ConditionIssue[] = [];
  predicates = 0;

  condition(value: unknown, path: string, depth: number): void {
    if (depth > LIMITS.depth) {
      this.issue(path, `conditions nest at most ${LIMITS.depth} deep`);
      return;
    }
    const keys = isRecord(value) ? Object.keys(value) : [];
    const kind = CONDITION_KINDS.find((k) => k === keys[0]);
    if (!isRecord(value) || keys.length !== 1 || !kind) {
      const got = isRecord(value) ? keys.join(', ') || 'none' : describe(value);
      this.issue(path, `expected exactly one of ${CONDITION_KINDS.join(', ')}, got ${got}`);
      return;
    }
    const payload = value[kind];
    const at = joinPath(path, kind);
    switch (kind) {
      case 'and':
      case 'or':
        if (!Array.isArray(payload) || payload.length < 2) {
          this.issue(at, 'expected a list of at least two conditions');
          return;
        }
        payload.forEach((operand, i) => this.condition(operand, `${at}[${i}]`, depth + 1));
        return;
      case 'not':
        this.condition(payload, at, depth + 1);
        return;
    }
    this.predicates++;
    switch (kind) {
      case 'tag':
        return this.tag(payload, at);
      case 'category':
      case 'segment':
        this.text(payload, at);
        return;
      case 'field':
        return this.field(payload, at);
      case 'attribute':
        if (this.members(payload, at, ['key'])) this.text(payload.key, `${at}.key`);
        return this.comparison(payload, at, 'attribute', 'key');
      case 'feature':
        if (this.members(payload, at, ['name'])) this.text(payload.name, `${at}.name`);
        return this.comparison(payload, at, 'feature', 'name');
      case 'events':
        return this.events(payload, at);
      case 'cluster':
        return this.cluster(payload, at);
    }
  }

  private tag(payload: unknown, at: string): void {
    const keys = isRecord(payload) ? Object.keys(payload) : [];
    const set = ['has', 'anyOf', 'allOf', 'noneOf'].find((k) => k === keys[0]);
    if (!isRecord(payload) || keys.length !== 1 || !set) {
      this.issue(at, 'expected exactly one of has, anyOf, allOf, noneOf');
      return;
    }
    if (set === 'has') this.text(payload.has, `${at}.has`);
    else this.list(payload[set], `${at}.${set}`, (item, path) => this.text(item, path));
  }

  private field(payload: unknown, at: string): void {
    if (!this.members(payload, at, ['name'])) return;
    if (typeof payload.name !== 'string' || !isProfileField(payload.name)) {
      this.issue(
        `${at}.name`,
        `unknown profile field ${describe(payload.name)}; one of ${Object.keys(PROFILE_FIELDS).join(', ')}`,
      );
      return;
    }
    this.comparison(payload, at, PROFILE_FIELDS[payload.name], 'name');
  }

  private comparison(payload: unknown, at: string, target: Target, nameMember: string): void {
    if (!isRecord(payload)) return;
    const op = OPERATORS.find((o) => o === payload.op);
    if (!op) {
      this.issue(
        `${at}.op`,
        `expected one of ${OPERATORS.join(', ')}, got ${describe(payload.op)}`,
      );
      return;
    }
    const operands =
      op === 'BETWEEN'
        ? ['low', 'high']
        : op === 'IN' || op === 'NOT_IN'
          ? ['values']
          : op === 'EXISTS'
            ? []
            : ['value'];
    const allowed = new Set([nameMember, 'op', ...operands]);
    for (const key of Object.keys(payload)) {
      if (!allowed.has(key)) this.issue(`${at}.${key}`, `unexpected member "${key}" for ${op}`);
    }
    for (const key of operands) {
      if (!Object.hasOwn(payload, key)) this.issue(`${at}.${key}`, `${op} needs ${key}`);
    }
    if (operands.some((key) => !Object.hasOwn(payload, key))) return;

    if (target === 'attribute') {
      this.attributeOperands(payload, at, op);
      return;
    }
    if (!OPERATORS_OF[target].includes(op)) {
      this.issue(
        `${at}.op`,
        `${op} does not apply to ${target === 'feature' ? 'features' : `${target} fields`}`,
      );
      return;
    }
    const check = (value: unknown, path: string) => this.operand(value, path, target);
    if (op === 'IN' || op === 'NOT_IN') this.list(payload.values, `${at}.values`, check);
    else for (const key of operands) check(payload[key], `${at}.${key}`);
  }

  /** Attributes are untyped: the literal picks the comparison, and all literals must agree. */
  private attributeOperands(payload: Json, at: string, op: Operator): void {
    if (op === 'EXISTS') return;
    if (op === 'CONTAINS' || op === 'STARTS_WITH') {
      this.operand(payload.value, `${at}.value`, 'text');
      return;
    }
    const values: [unknown, string][] =
      op === 'BETWEEN'
        ? [
            [payload.low, `${at}.low`],
            [payload.high, `${at}.high`],
          ]
        : op === 'IN' || op === 'NOT_IN'
          ? Array.isArray(payload.values)
            ? payload.values.map((v, i) => [v, `${at}.values[${i}]`])
            : []
          : [[payload.value, `${at}.value`]];
    if (op === 'IN' || op === 'NOT_IN') this.list(payload.values, `${at}.values`, () => {});
    const [first] = values;
    if (!first) return;
    const type = typeof first[0];
    if (type === 'boolean' && op !== 'EQ' && op !== 'NE') {
      this.issue(first[1], `booleans compare only with EQ and NE`);
      return;
    }
    for (const [value, path] of values) {
      if (typeof value !== type) {
        this.issue(
          path,
          `expected ${type === 'number' ? 'a number' : type === 'string' ? 'a string' : 'a boolean'} like the first operand, got ${describe(value)}`,
        );
      } else {
        this.operand(
          value,
          path,
          type === 'number' ? 'integer' : type === 'string' ? 'text' : 'boolean',
        );
      }
    }
  }

  private operand(
    value: unknown,
    path: string,
    type: ProfileFieldType | 'feature' | 'boolean',
  ): void {
    switch (type) {
      case 'integer':
      case 'feature':
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          this.issue(path, `expected a finite number, got ${describe(value)}`);
        }
        return;
      case 'text':
        this.text(value, path, true);
        return;
      case 'timestamp':
        if (typeof value !== 'string' || parseIsoTimestamp(value) === undefined) {
          this.issue(
            path,
            `expected an ISO date (2026-01-31) or date-time with offset, got ${describe(value)}`,
          );
        }
        return;
      case 'boolean':
        if (typeof value !== 'boolean')
          this.issue(path, `expected a boolean, got ${describe(value)}`);
    }
  }

  private events(payload: unknown, at: string): void {
    if (!this.members(payload, at, ['withinDays', 'op', 'count'], ['type', 'category'])) return;
    if (payload.type !== undefined) this.text(payload.type, `${at}.type`);
    if (payload.category !== undefined) this.text(payload.category, `${at}.category`, true);
    this.integer(payload.withinDays, `${at}.withinDays`, 1, LIMITS.withinDays);
    if (!COMPARISON_OPS.some((o) => o === payload.op)) {
      this.issue(
        `${at}.op`,
        `expected one of ${COMPARISON_OPS.join(', ')}, got ${describe(payload.op)}`,
      );
    }
    this.integer(payload.count, `${at}.count`, 0, LIMITS.eventCount);
  }

  private cluster(payload: unknown, at: string): void {
    const keys = isRecord(payload) ? Object.keys(payload) : [];
    if (!isRecord(payload) || keys.length !== 1 || (keys[0] !== 'id' && keys[0] !== 'index')) {
      this.issue(at, 'expected exactly one of id, index');
      return;
    }
    if (keys[0] === 'index') this.integer(payload.index, `${at}.index`, 0, 1_000_000);
    else if (typeof payload.id !== 'string' || !CLUSTER_ID.test(payload.id)) {
      this.issue(`${at}.id`, `expected a cluster id, got ${describe(payload.id)}`);
    }
  }

  /** The payload is an object with the required members and no others besides `optional`. */
  private members(
    payload: unknown,
    at: string,
    required: string[],
    optional: string[] = [],
  ): payload is Json {
    if (!isRecord(payload)) {
      this.issue(at, `expected an object, got ${describe(payload)}`);
      return false;
    }
    for (const key of required) {
      if (!Object.hasOwn(payload, key)) this.issue(`${at}.${key}`, `${key} is required`);
    }
    if (optional.length) {
      const allowed = new Set([...required, ...optional]);
      for (const key of Object.keys(payload)) {
        if (!allowed.has(key)) this.issue(`${at}.${key}`, `unexpected member "${key}"`);
      }
    }
    return required.every((key) => Object.hasOwn(payload, key));
  }

  private list(value: unknown, path: string, item: (value: unknown, path: string) => void): void {
    if (!Array.isArray(value) || value.length === 0) {
      this.issue(path, 'expected a non-empty list');
      return;
    }
    if (value.length > LIMITS.listItems) {
      this.issue(path, `a list has at most ${LIMITS.listItems} items, got ${value.length}`);
      return;
    }
    value.forEach((v, i) => item(v, `${path}[${i}]`));
  }

  private text(value: unknown, path: string, emptyAllowed = false): void {
    if (typeof value !== 'string' || (!emptyAllowed && value.length === 0)) {
      this.issue(
        path,
        `expected a ${emptyAllowed ? '' : 'non-empty '}string, got ${describe(value)}`,
      );
    } else if (value.length > LIMITS.textLength) {
      this.issue(path, `a string has at most ${LIMITS.textLength} characters`);
    } else if (value.includes('\u0000') || LONE_SURROGATE.test(value)) {
      // PostgreSQL text holds neither; the driver would fail or silently replace them.
      this.issue(path, 'a string cannot contain NUL or unpaired surrogates');
    }
  }

  private integer(value: unknown, path: string, min: number, max: number): void {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.issue(path, `expected a whole number from ${min} to ${max}, got ${describe(value)}`);
    }
  }

  private issue(path: string, message: string): void {
    this.issues.push({ path, message });
  }
}
