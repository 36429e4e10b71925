/**
 * One CSV field (RFC 4180): quoted only when it holds a quote, comma or line break; null and
 * undefined are empty; dates in ISO form.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
