import {
  isProfileField,
  visitCondition,
  type Comparison,
  type ComparisonOp,
  type Condition,
  type EventCount,
  type Scalar,
  type TagMatch,
} from './ast.js';

export const OPERATOR_SYMBOLS: Record<ComparisonOp, string> = {
  EQ: '=',
  NE: '!=',
  LT: '<',
  LTE: '<=',
  GT: '>',
  GTE: '>=',
};

/** Words the parser gives a meaning somewhere; a feature named like one keeps its `feature.` prefix. */
const RESERVED = new Set([
  'and',
  'or',
  'not',
  'true',
  'false',
  'in',
  'between',
  'exists',
  'contains',
  'starts',
  'with',
  'within',
  'any',
  'all',
  'none',
  'id',
  'tag',
  'category',
  'event',
  'events',
  'cluster',
  'segment',
  'attr',
  'feature',
]);
const BARE_WORD = /^[\p{L}_][\p{L}\p{N}_-]*$/u;
const BARE_KEY = /^[\p{L}_][\p{L}\p{N}_-]*(?:\.[\p{L}_][\p{L}\p{N}_-]*)*$/u;

type Context = 'top' | 'or' | 'and' | 'not';

/**
 * The canonical text of a tree: AND/OR/NOT upper case, other keywords lower case, one space
 * between tokens, parentheses only where the tree needs them, names bare where the parser reads
 * them back unchanged. `parseCondition(printCondition(tree))` deep-equals every well-formed tree.
 */
export function printCondition(condition: Condition): string {
  return print(condition, 'top');
}

function print(condition: Condition, context: Context): string {
  return visitCondition<string>(condition, {
    or: (operands) => {
      const text = operands.map((o) => print(o, 'or')).join(' OR ');
      return context === 'top' ? text : `(${text})`;
    },
    and: (operands) => {
      const text = operands.map((o) => print(o, 'and')).join(' AND ');
      return context === 'and' || context === 'not' ? `(${text})` : text;
    },
    not: (operand) => `NOT ${print(operand, 'not')}`,
    tag: printTag,
    category: (key) => `category:${printKey(key)}`,
    segment: (key) => `segment:${printKey(key)}`,
    cluster: (ref) => ('id' in ref ? `cluster:id:${ref.id}` : `cluster:${ref.index}`),
    field: ({ name, ...comparison }) => printComparison(name, comparison),
    attribute: ({ key, ...comparison }) => printComparison(`attr.${printKey(key)}`, comparison),
    feature: ({ name, ...comparison }) => printComparison(printFeature(name), comparison),
    events: printEvents,
  });
}

function printTag(match: TagMatch): string {
  if ('has' in match) return `tag:${printKey(match.has)}`;
  const [set, keys] =
    'anyOf' in match
      ? ['any', match.anyOf]
      : 'allOf' in match
        ? ['all', match.allOf]
        : ['none', match.noneOf];
  return `tag:${set}(${keys.map(printKey).join(', ')})`;
}

function printEvents({ type, category, withinDays, op, count }: EventCount): string {
  // A type spelled like ANY is quoted: bare, it would mean any type.
  const bare = type !== undefined && BARE_WORD.test(type) && type.toLowerCase() !== 'any';
  const typeText = type === undefined ? 'ANY' : bare ? type : printString(type);
  if (category === undefined && op === 'GTE' && count === 1) {
    return `event:${typeText} within ${withinDays}d`;
  }
  const filter = category === undefined ? '' : `, category ${printString(category)}`;
  return `events(${typeText}${filter}) ${OPERATOR_SYMBOLS[op]} ${count} within ${withinDays}d`;
}

function printComparison(target: string, comparison: Comparison): string {
  switch (comparison.op) {
    case 'BETWEEN':
      return `${target} between ${printValue(comparison.low)} and ${printValue(comparison.high)}`;
    case 'IN':
    case 'NOT_IN':
      return `${target} ${comparison.op === 'IN' ? 'in' : 'not in'} (${comparison.values.map(printValue).join(', ')})`;
    case 'EXISTS':
      return `${target} exists`;
    case 'CONTAINS':
      return `${target} contains ${printString(comparison.value)}`;
    case 'STARTS_WITH':
      return `${target} starts with ${printString(comparison.value)}`;
    default:
      return `${target} ${OPERATOR_SYMBOLS[comparison.op]} ${printValue(comparison.value)}`;
  }
}

/** Bare when it cannot be mistaken for a profile field or a keyword; `feature.<name>` otherwise. */
function printFeature(name: string): string {
  const bare =
    BARE_WORD.test(name) &&
    !RESERVED.has(name.toLowerCase()) &&
    !isProfileField(name.toLowerCase());
  return bare ? name : `feature.${printKey(name)}`;
}

/** Keys follow a `prefix:` or `prefix.`, where the parser reads any word as a key. */
function printKey(key: string): string {
  return BARE_KEY.test(key) ? key : printString(key);
}

function printValue(value: Scalar): string {
  return typeof value === 'string' ? printString(value) : String(value);
}

/** JSON string syntax, which the lexer reads; non-ASCII text (华南) stays as written. */
function printString(text: string): string {
  return JSON.stringify(text);
}
