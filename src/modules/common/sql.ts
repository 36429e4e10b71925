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
