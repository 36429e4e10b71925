import type { GraphQLField, GraphQLSchema } from 'graphql';
import { isObjectType } from 'graphql';
import { Extensions } from 'type-graphql';

/**
 * What a field declared with @Scans carries in its schema extensions: its own cost when it runs,
 * in the cost limit's unit (values resolved).
 */
export interface ScanCost {
  readonly weight: number;
  /** Only for arguments that make it scan (a filter); otherwise it costs 1. */
  readonly when?: (args: Record<string, unknown>) => boolean;
  /**
   * One statement answers it for every parent in the request (a DataLoader over a bounded set,
   * such as all tags): it costs its weight once for each place it appears in the operation, not
   * once per parent of the lists around it.
   */
  readonly batched?: boolean;
}

/**
 * Default weights, in values resolved (the cost limit, TAGWISE_MAX_QUERY_COST, is 100,000 of them).
 * A plain field costs 1; these read rows that grow with the customer base, so they cost as a scan.
 * Sized so that a page of 20 segments with their sizes, or a filtered customers page, fits in one
 * operation, while a fifth preview does not.
 */
export const SCAN_WEIGHTS = {
  /** A count and a sample of every customer matching a condition: two scans, on two connections at once. */
  preview: 20_000,
  /** One pass over the customers (or the suggestions, or the tag assignments) something matches. */
  scan: 4_000,
} as const;

/**
 * Declares, where the field is declared, that it scans: a new field that reads every customer
 * matching something carries its weight from the line it is written on, so the cost limit cannot
 * forget it (a central table of coordinates would silently miss it). TAGWISE_COST_WEIGHTS
 * overrides the weight by coordinate (`Query.previewSegment`).
 */
export function Scans(
  weight: number,
  options: Omit<ScanCost, 'weight'> = {},
): MethodDecorator & PropertyDecorator {
  return Extensions({ scanCost: { weight, ...options } satisfies ScanCost });
}

/** The cost declaration of a field, if it has one. */
export function scanCostOf(field: GraphQLField<unknown, unknown>): ScanCost | undefined {
  return (field.extensions as { scanCost?: ScanCost }).scanCost;
}

/** Whether an input object given as an argument sets anything (an empty filter filters nothing). */
export function setsAnything(value: unknown, ignoring: readonly string[] = []): boolean {
  if (value == null || typeof value !== 'object') return false;
  return Object.entries(value).some(
    ([key, v]) =>
      !ignoring.includes(key) &&
      v != null &&
      v !== '' &&
      !(Array.isArray(v) && v.length === 0) &&
      (typeof v !== 'object' || Array.isArray(v) || setsAnything(v)),
  );
}

/** Coordinates (`Type.field`) among `names` that are not fields of an object type of the schema. */
export function unknownCoordinates(schema: GraphQLSchema, names: Iterable<string>): string[] {
  return [...names].filter((name) => {
    const [typeName, fieldName] = name.split('.');
    const type = schema.getType(typeName ?? '');
    return !isObjectType(type) || !type.getFields()[fieldName ?? ''];
  });
}
