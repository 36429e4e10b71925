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
    throw new InvalidInputError(field, `${field}: not a cursor from this list`);
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
