import { featureDefinitions, type FeatureSet } from '../../feature/feature.definitions.js';
import {
  PROFILE_FIELDS,
  visitCondition,
  type Comparison,
  type Condition,
  type SegmentResolver,
} from './ast.js';
import { ConditionError, joinPath, type ConditionIssue } from './errors.js';
import { compareText } from './evaluate.js';
import { inlineSegments } from './segments.js';
import { parseIsoTimestamp, shapeIssues } from './shape.js';

/** What a condition may name. Profile fields are fixed: see PROFILE_FIELDS. */
export interface ConditionSchema {
  tagKeys: ReadonlySet<string>;
  categoryKeys: ReadonlySet<string>;
  /** Numeric features of the current feature set: see numericFeatureNames. */
  featureNames: ReadonlySet<string>;
  resolveSegment?: SegmentResolver;
  /** The key the condition is saved under, so that a reference back to it is reported as a cycle. */
  segmentKey?: string;
}

const EVENT_TYPE = /^[A-Z][A-Z0-9_]*$/;

/** The features a condition may compare: the numeric ones of the feature set. */
export function numericFeatureNames(set: FeatureSet): Set<string> {
  return new Set(
    featureDefinitions(set)
      .filter((d) => d.kind === 'numeric')
      .map((d) => d.name),
  );
}

/**
 * Every problem with a condition, each at a path like `and[1].feature.name`: first its shape
 * (see shapeIssues), then — on a well-formed tree — names unknown to the schema, event types
 * that are not UPPER_SNAKE, reversed BETWEEN bounds, and unknown or cyclic segment references.
 */
export function validateCondition(tree: Condition, schema: ConditionSchema): ConditionIssue[] {
  const shape = shapeIssues(tree);
  if (shape.length) return shape;
  const issues: ConditionIssue[] = [];
  const issue = (path: string, message: string) => issues.push({ path, message });
  const known = (names: ReadonlySet<string>, name: string, path: string, what: string) => {
    if (!names.has(name)) issue(path, `unknown ${what} "${name}"`);
  };
  const bounds = (comparison: Comparison, path: string, timestamps = false) => {
    if (comparison.op !== 'BETWEEN') return;
    const { low, high } = comparison;
    const reversed =
      typeof low === 'number' && typeof high === 'number'
        ? low > high
        : typeof low === 'string' && typeof high === 'string'
          ? timestamps
            ? parseIsoTimestamp(low)! > parseIsoTimestamp(high)!
            : compareText(low, high) > 0
          : false;
    if (reversed) issue(joinPath(path, 'low'), 'BETWEEN bounds are reversed: low is above high');
  };

  const walk = (c: Condition, path: string): void =>
    visitCondition<void>(c, {
      and: (operands) => operands.forEach((o, i) => walk(o, `${joinPath(path, 'and')}[${i}]`)),
      or: (operands) => operands.forEach((o, i) => walk(o, `${joinPath(path, 'or')}[${i}]`)),
      not: (operand) => walk(operand, joinPath(path, 'not')),
      tag: (match) => {
        const at = joinPath(path, 'tag');
        if ('has' in match) return known(schema.tagKeys, match.has, `${at}.has`, 'tag');
        const [set, keys] =
          'anyOf' in match
            ? ['anyOf', match.anyOf]
            : 'allOf' in match
              ? ['allOf', match.allOf]
              : ['noneOf', match.noneOf];
        keys.forEach((key, i) => known(schema.tagKeys, key, `${at}.${set}[${i}]`, 'tag'));
      },
      category: (key) =>
        known(schema.categoryKeys, key, joinPath(path, 'category'), 'tag category'),
      field: (field) =>
        bounds(field, joinPath(path, 'field'), PROFILE_FIELDS[field.name] === 'timestamp'),
      attribute: (attribute) => bounds(attribute, joinPath(path, 'attribute')),
      feature: (feature) => {
        const at = joinPath(path, 'feature');
        known(schema.featureNames, feature.name, `${at}.name`, 'feature');
        bounds(feature, at);
      },
      events: (events) => {
        if (events.type !== undefined && !EVENT_TYPE.test(events.type)) {
          issue(
            `${joinPath(path, 'events')}.type`,
            `event types are UPPER_SNAKE names, got "${events.type}"`,
          );
        }
      },
      cluster: () => {},
      segment: (key) => {
        try {
          inlineSegments({ segment: key }, schema.resolveSegment, {
            path,
            chain: schema.segmentKey === undefined ? [] : [schema.segmentKey],
          });
        } catch (error) {
          if (!(error instanceof ConditionError)) throw error;
          issues.push(...error.issues);
        }
      },
    });
  walk(tree, '');
  return issues;
}
