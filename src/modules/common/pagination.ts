import type { EntityManager, EntityName, FilterQuery } from '@mikro-orm/postgresql';
import { InvalidInputError } from './domain.errors.js';
import { isStorableText } from './text.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 500;

export interface PageRequest {
  first: number;
  after?: string | null;
}

export interface Page<T> {
  nodes: T[];
  cursors: string[];
  hasNextPage: boolean;
  /** Counted only when a client asks for it. */
  totalCount: () => Promise<number>;
}

/** Opaque keyset cursor: the sort key values of the last row seen. */
export function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string, arity: number, field = 'after'): (string | number)[] {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    values = undefined;
  }
  if (
    !Array.isArray(values) ||
    values.length !== arity ||
    // A forged cursor must not carry what the database cannot read back.
    !values.every((v) =>
      typeof v === 'string' ? isStorableText(v) : typeof v === 'number' && Number.isFinite(v),
    )
  ) {
    throw notACursor(field);
  }
  return values as (string | number)[];
}

/** Turns `limit + 1` fetched rows into a page. */
export function toPage<T>(
  rows: T[],
  first: number,
  cursorOf: (row: T) => string,
  totalCount: () => Promise<number>,
): Page<T> {
  const nodes = rows.slice(0, first);
  return { nodes, cursors: nodes.map(cursorOf), hasNextPage: rows.length > first, totalCount };
}

const notACursor = (field: string) =>
  new InvalidInputError(field, `${field}: not a cursor from this list`);

/**
 * A row id read from a cursor, as text for a bigint parameter. Anything but a whole number is
 * refused: a forged cursor with text in it reached the bigint comparison (INTERNAL_SERVER_ERROR).
 */
export function cursorId(value: unknown, field = 'after'): string {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw notACursor(field);
  }
  return String(value);
}

/** A timestamp read from a cursor, as PostgreSQL printed it (`timestamptz::text`). */
export function cursorTimestamp(value: unknown, field = 'after'): string {
  if (
    typeof value !== 'string' ||
    !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/.test(value)
  ) {
    throw notACursor(field);
  }
  return value;
}

/** The id a one-id keyset cursor holds, or null without a cursor; see cursorId. */
export function decodeIdCursor(after: string | null | undefined, field = 'after'): string | null {
  return after ? cursorId(decodeCursor(after, 1, field)[0], field) : null;
}

export const encodeIdCursor = (row: { id: string }) => encodeCursor([Number(row.id)]);

/**
 * A page of an entity in id order (ascending, or newest first with 'desc') under `where`, keyed by
 * the last id seen; `totalCount` counts every row under `where`.
 */
export async function pageById<T extends { id: string }>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  page: PageRequest,
  order: 'asc' | 'desc' = 'asc',
): Promise<Page<T>> {
  const id = decodeIdCursor(page.after);
  const after = id === null ? {} : { id: order === 'asc' ? { $gt: id } : { $lt: id } };
  const rows = await em.find(entity, { $and: [where, after] } as FilterQuery<T>, {
    orderBy: { id: order } as never,
    limit: page.first + 1,
  });
  return toPage(rows, page.first, encodeIdCursor, () => em.count(entity, where));
}
