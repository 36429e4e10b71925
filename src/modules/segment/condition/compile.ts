import {
  PROFILE_FIELDS,
  visitCondition,
  type Comparison,
  type Condition,
  type EventCount,
  type Scalar,
  type SegmentResolver,
  type TagMatch,
} from './ast.js';
import { ConditionError } from './errors.js';
import { OPERATOR_SYMBOLS } from './printer.js';
import { inlineSegments } from './segments.js';
import { parseIsoTimestamp, shapeIssues } from './shape.js';

export interface CompileContext {
  /** Feature comparisons read only rows computed with this feature-set version. */
  featureSetVersion: number;
  resolveSegment?: SegmentResolver;
  /** The instant event windows end at; the database's now() when omitted. */
  now?: Date;
  /**
   * `{…}` literal of tags the reader may not see: holding one of them never matches, so a
   * category test counts only the category's visible tags.
   */
  hiddenTagIds?: string;
}

export type SqlParam = string | number | boolean;

export interface CompiledCondition {
  /** A boolean expression over `customer c`, never NULL, with `?` placeholders. */
  sql: string;
  params: SqlParam[];
}

type ValueType = 'text' | 'numeric' | 'timestamptz' | 'boolean';

const COLUMN_TYPES = { text: 'text', integer: 'numeric', timestamp: 'timestamptz' } as const;
const JSON_TYPES = { text: 'string', numeric: 'number', boolean: 'boolean' } as const;
type JsonValueType = keyof typeof JSON_TYPES;

/**
 * Compiles a condition to one parameterized SQL expression for `select … from customer c where …`
 * (`em.execute(sql, params)`). Every name and value is a parameter; column names come from
 * PROFILE_FIELDS only. Predicates over other tables are EXISTS / IN subqueries, which PostgreSQL
 * runs as (anti) semi-joins or hashed subplans instead of once per customer. Every predicate is
 * two-valued (see ast.ts), so NOT negates exactly. Referenced segments are inlined.
 * @throws ConditionError when the tree is ill-formed or a segment is unknown or cyclic
 */
export function compileCondition(tree: Condition, context: CompileContext): CompiledCondition {
  const issues = shapeIssues(tree);
  if (issues.length) throw new ConditionError(issues);
  const compiler = new SqlCompiler(context);
  const sql = compiler.condition(inlineSegments(tree, context.resolveSegment));
  return { sql, params: compiler.params };
}

/** A PostgreSQL array literal: knex would expand a JS array into a list of placeholders. */
function arrayLiteral(values: readonly Scalar[]): string {
  const items = values.map((v) =>
    typeof v === 'string' ? `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"` : String(v),
  );
  return `{${items.join(',')}}`;
}

function typeOf(value: Scalar): JsonValueType {
  return typeof value === 'number' ? 'numeric' : typeof value === 'string' ? 'text' : 'boolean';
}

/** Attributes take the type of the literal they are compared with. */
function attributeType(comparison: Exclude<Comparison, { op: 'EXISTS' }>): JsonValueType {
  switch (comparison.op) {
    case 'BETWEEN':
      return typeOf(comparison.low);
    case 'IN':
    case 'NOT_IN':
      return typeOf(comparison.values[0]!);
    default:
      return typeOf(comparison.value);
  }
}

class SqlCompiler {
  readonly params: SqlParam[] = [];

  constructor(private readonly context: CompileContext) {}

  condition(condition: Condition): string {
    return visitCondition<string>(condition, {
      and: (operands) => `(${operands.map((o) => this.condition(o)).join(' and ')})`,
      or: (operands) => `(${operands.map((o) => this.condition(o)).join(' or ')})`,
      not: (operand) => `(not ${this.condition(operand)})`,
      tag: (match) => this.tag(match),
      category: (key) =>
        this.holdsTag(
          `t.category_id in (with recursive sub(id) as (` +
            `select id from tag_category where key = ${this.bind(key, 'text')} ` +
            // UNION, not UNION ALL: a cycle in the hierarchy must not recurse forever.
            `union select tc.id from tag_category tc join sub on tc.parent_id = sub.id` +
            `) select id from sub)`,
        ),
      field: ({ name, ...comparison }) =>
        this.compare(`c.${name}`, COLUMN_TYPES[PROFILE_FIELDS[name]], comparison),
      attribute: ({ key, ...comparison }) => this.attribute(key, comparison),
      feature: ({ name, ...comparison }) => {
        const version = this.bind(this.context.featureSetVersion, 'int');
        const value = this.jsonMember('f.values', name, 'numeric');
        return (
          `exists (select 1 from customer_features f where f.customer_id = c.id ` +
          `and f.feature_set_version = ${version} and ${this.compare(value, 'numeric', comparison)})`
        );
      },
      events: (events) => this.events(events),
      cluster: (ref) => {
        const [join, test] =
          'id' in ref
            ? ['', `cc.cluster_id = ${this.bind(ref.id, 'bigint')}`]
            : [
                ' join cluster cl on cl.id = cc.cluster_id',
                `cl.index = ${this.bind(ref.index, 'int')}`,
              ];
        return (
          `exists (select 1 from customer_cluster cc join model_version mv on mv.id = cc.model_version_id${join} ` +
          `where cc.customer_id = c.id and mv.status = 'ACTIVE' and ${test})`
        );
      },
      segment: () => {
        throw new Error('segments are inlined before compiling');
      },
    });
  }

  /** Binds a value; placeholders must be created in the order they appear in the text. */
  private bind(value: SqlParam, cast: string): string {
    this.params.push(value);
    return `?::${cast}`;
  }

  private tag(match: TagMatch): string {
    if ('has' in match) return this.holdsTag(`t.key = ${this.bind(match.has, 'text')}`);
    if ('allOf' in match) {
      const keys = [...new Set(match.allOf)];
      return `(${keys.map((key) => this.holdsTag(`t.key = ${this.bind(key, 'text')}`)).join(' and ')})`;
    }
    const keys = 'anyOf' in match ? match.anyOf : match.noneOf;
    const holds = this.holdsTag(`t.key = any(${this.bind(arrayLiteral(keys), 'text[]')})`);
    return 'anyOf' in match ? holds : `(not ${holds})`;
  }

  private holdsTag(test: string): string {
    const hidden = this.context.hiddenTagIds;
    const visible =
      hidden && hidden !== '{}' ? ` and not t.id = any(${this.bind(hidden, 'bigint[]')})` : '';
    return `exists (select 1 from customer_tag ct join tag t on t.id = ct.tag_id where ct.customer_id = c.id and ${test}${visible})`;
  }

  private attribute(key: string, comparison: Comparison): string {
    if (comparison.op === 'EXISTS') {
      return `coalesce(jsonb_typeof(c.attributes -> ${this.bind(key, 'text')}) <> 'null', false)`;
    }
    const type = attributeType(comparison);
    if (comparison.op === 'EQ') {
      // Containment can use the GIN index on attributes; the type test makes it exact.
      const contains = this.bind(JSON.stringify({ [key]: comparison.value }), 'jsonb');
      return `(c.attributes @> ${contains} and jsonb_typeof(c.attributes -> ${this.bind(key, 'text')}) = '${JSON_TYPES[type]}')`;
    }
    return this.compare(this.jsonMember('c.attributes', key, type), type, comparison);
  }

  /** A jsonb member as `type`, NULL when it holds another JSON type: the cast never fails. */
  private jsonMember(json: string, key: string, type: JsonValueType): string {
    const test = `jsonb_typeof(${json} -> ${this.bind(key, 'text')}) = '${JSON_TYPES[type]}'`;
    const text = `${json} ->> ${this.bind(key, 'text')}`;
    return `(case when ${test} then ${type === 'text' ? text : `(${text})::${type}`} end)`;
  }

  /** `expr` must already be built: its placeholders precede the operands'. */
  private compare(expr: string, type: ValueType, comparison: Comparison): string {
    const value = (v: Scalar) =>
      this.bind(
        type === 'timestamptz' ? new Date(parseIsoTimestamp(String(v))!).toISOString() : v,
        type,
      );
    // Code-point order whatever the database collation, as in the evaluator.
    const ordered = type === 'text' ? `(${expr}) collate "C"` : expr;
    switch (comparison.op) {
      case 'EXISTS':
        return `(${expr} is not null)`;
      case 'BETWEEN':
        return `coalesce(${ordered} between ${value(comparison.low)} and ${value(comparison.high)}, false)`;
      case 'IN':
        return `coalesce(${expr} = any(${this.bind(arrayLiteral(comparison.values), `${type}[]`)}), false)`;
      case 'NOT_IN':
        return `coalesce(${expr} <> all(${this.bind(arrayLiteral(comparison.values), `${type}[]`)}), false)`;
      case 'CONTAINS':
        return `coalesce(strpos(${expr}, ${value(comparison.value)}) > 0, false)`;
      case 'STARTS_WITH':
        return `coalesce(starts_with(${expr}, ${value(comparison.value)}), false)`;
      case 'EQ':
      case 'NE':
        return `coalesce(${expr} ${comparison.op === 'EQ' ? '=' : '<>'} ${value(comparison.value)}, false)`;
      default:
        return `coalesce(${ordered} ${OPERATOR_SYMBOLS[comparison.op]} ${value(comparison.value)}, false)`;
    }
  }

  private events(events: EventCount): string {
    const { op, count } = events;
    const atLeast = (n: number) => this.atLeastEvents(events, n);
    switch (op) {
      case 'GTE':
        return atLeast(count);
      case 'GT':
        return atLeast(count + 1);
      case 'LT':
        return `(not ${atLeast(count)})`;
      case 'LTE':
        return `(not ${atLeast(count + 1)})`;
      case 'EQ':
        return `(${atLeast(count)} and not ${atLeast(count + 1)})`;
      case 'NE':
        return `(not ${atLeast(count)} or ${atLeast(count + 1)})`;
    }
  }

  /**
   * One event is an EXISTS (a semi-join on the (customer_id, occurred_at) index); more are counted
   * once per customer with events in the window, then probed as a hashed set, instead of one
   * count per customer.
   */
  private atLeastEvents({ type, category, withinDays }: EventCount, n: number): string {
    if (n <= 0) return 'true';
    const now = () =>
      this.context.now ? this.bind(this.context.now.toISOString(), 'timestamptz') : 'now()';
    // Hours, not days: a day is 23 or 25 hours across a DST change in the session time zone.
    const from = `e.occurred_at >= ${now()} - make_interval(hours => ${this.bind(withinDays * 24, 'int')})`;
    const filters = [from, `e.occurred_at <= ${now()}`];
    if (type !== undefined) filters.push(`e.type = ${this.bind(type, 'text')}`);
    if (category !== undefined) filters.push(`e.category = ${this.bind(category, 'text')}`);
    if (n === 1) {
      return `exists (select 1 from event e where e.customer_id = c.id and ${filters.join(' and ')})`;
    }
    return (
      `c.id in (select e.customer_id from event e where ${filters.join(' and ')} ` +
      `group by e.customer_id having count(*) >= ${this.bind(n, 'int')})`
    );
  }
}
