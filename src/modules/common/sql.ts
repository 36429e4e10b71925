/**
 * Knex expands array bindings into value lists, so arrays go to PostgreSQL as literals: a
 * `{1,2,3}` literal for ids (already validated as digits by parseId) cast with `?::bigint[]`,
 * and JSON text for everything else.
 */
export function bigintArray(ids: readonly string[]): string {
  return `{${ids.join(',')}}`;
}

/** Escapes LIKE wildcards so user text matches literally. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Raw queries through MikroORM return timestamptz as PostgreSQL text ("2026-01-02 03:04:05.123456+00");
 * the API wants Dates.
 */
export function parseTimestamp(value: string | Date): Date;
export function parseTimestamp(value: string | Date | null): Date | null;
export function parseTimestamp(value: string | Date | null): Date | null {
  if (value === null || value instanceof Date) return value;
  // "+00" → "+00:00" and a T between date and time: the ISO form Date parses fastest.
  const iso =
    value.length > 10 && value[10] === ' ' ? `${value.slice(0, 10)}T${value.slice(11)}` : value;
  return new Date(iso.at(-3) === '+' || iso.at(-3) === '-' ? `${iso}:00` : iso);
}

/** An array literal of validated tokens (e.g. event type names: A–Z, 0–9 and _ only). */
export function tokenArray(tokens: readonly string[]): string {
  for (const token of tokens) {
    if (!/^[A-Za-z0-9_]+$/.test(token)) throw new Error(`not a token: ${token}`);
  }
  return `{${tokens.join(',')}}`;
}

/** A text[] literal for any strings: each quoted, quotes and backslashes escaped, null as NULL. */
export function textArray(values: readonly (string | null)[]): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`)).join(',')}}`;
}

/** A real[]/float8[] literal; null (and non-finite numbers) as NULL. */
export function numberArray(values: readonly (number | null)[]): string {
  return `{${values.map((v) => (v === null || !Number.isFinite(v) ? 'NULL' : String(v))).join(',')}}`;
}
