import { LIMITS, visitCondition, type Condition, type SegmentResolver } from './ast.js';
import { ConditionError, joinPath } from './errors.js';
import { shapeIssues } from './shape.js';

/** How many segments deep references may chain (a → b → c is 3). */
export const MAX_SEGMENT_CHAIN = 10;

/** The segment keys a condition references directly, each once, in order of appearance. */
export function referencedSegments(condition: Condition): string[] {
  return [...conditionReferences(condition).segments];
}

/** The segment, tag and category keys a condition names (segments not expanded). */
export function conditionReferences(condition: Condition): {
  segments: Set<string>;
  tags: Set<string>;
  categories: Set<string>;
} {
  const refs = {
    segments: new Set<string>(),
    tags: new Set<string>(),
    categories: new Set<string>(),
  };
  const walk = (c: Condition): void =>
    visitCondition<void>(c, {
      and: (operands) => operands.forEach(walk),
      or: (operands) => operands.forEach(walk),
      not: walk,
      segment: (key) => void refs.segments.add(key),
      tag: (match) => {
        const keys = 'has' in match ? [match.has] : Object.values(match)[0]!;
        for (const key of keys) refs.tags.add(key);
      },
      category: (key) => void refs.categories.add(key),
      field: () => {},
      attribute: () => {},
      feature: () => {},
      events: () => {},
      cluster: () => {},
    });
  walk(condition);
  return refs;
}

export interface InlineOptions {
  /** Keys already being expanded, e.g. the key the condition is about to be saved under. */
  chain?: readonly string[];
  /** Where the condition sits, for error paths. */
  path?: string;
}

/**
 * Replaces every segment reference with the referenced segment's condition, recursively.
 * @throws ConditionError on an unknown segment, a cycle (named in the message), an ill-formed
 * stored condition, or an expansion past the size limits
 */
export function inlineSegments(
  condition: Condition,
  resolve: SegmentResolver | undefined,
  options: InlineOptions = {},
): Condition {
  let predicates = 0;
  // Problems inside a referenced segment are reported at the outermost reference: that is the
  // part of this condition the user can change.
  const expand = (
    c: Condition,
    path: string,
    chain: readonly string[],
    inside: boolean,
  ): Condition => {
    const at = (member: string) => (inside ? path : joinPath(path, member));
    return visitCondition<Condition>(c, {
      and: (operands) => ({
        and: operands.map((o, i) => expand(o, inside ? path : `${at('and')}[${i}]`, chain, inside)),
      }),
      or: (operands) => ({
        or: operands.map((o, i) => expand(o, inside ? path : `${at('or')}[${i}]`, chain, inside)),
      }),
      not: (operand) => ({ not: expand(operand, at('not'), chain, inside) }),
      segment: (key) => {
        const fail = (message: string): never => {
          throw new ConditionError([{ path: at('segment'), message }]);
        };
        if (chain.includes(key)) {
          fail(`segment cycle: ${[...chain.slice(chain.indexOf(key)), key].join(' → ')}`);
        }
        if (chain.length >= MAX_SEGMENT_CHAIN) {
          fail(`segments reference each other at most ${MAX_SEGMENT_CHAIN} deep`);
        }
        const referenced = resolve?.(key);
        if (referenced === undefined) return fail(`unknown segment "${key}"`);
        const issues = shapeIssues(referenced);
        if (issues.length) {
          fail(
            `segment "${key}" is invalid: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
          );
        }
        return expand(referenced, at('segment'), [...chain, key], true);
      },
      tag: (tag) => leaf({ tag }),
      category: (category) => leaf({ category }),
      field: (field) => leaf({ field }),
      attribute: (attribute) => leaf({ attribute }),
      feature: (feature) => leaf({ feature }),
      events: (events) => leaf({ events }),
      cluster: (cluster) => leaf({ cluster }),
    });
  };
  const leaf = (c: Condition): Condition => {
    if (++predicates > LIMITS.expandedPredicates) {
      throw new ConditionError([
        {
          path: '',
          message: `with its segments inlined a condition has at most ${LIMITS.expandedPredicates} predicates`,
        },
      ]);
    }
    return c;
  };
  return expand(condition, options.path ?? '', options.chain ?? [], false);
}
