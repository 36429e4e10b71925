// Numbers and dates as the console's pages show them: in the reader's locale, to the minute.
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatWhen(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

/** A share in 0…1 as a percentage with one decimal; null reads as a dash. */
export function formatShare(value: number | null | undefined): string {
  return value == null ? '—' : `${(value * 100).toFixed(1)} %`;
}

/** A probability or threshold to three decimals. */
export function formatScore(value: number | null | undefined): string {
  return value == null ? '—' : value.toFixed(3);
}

export function formatAmount(value: number | null | undefined, currency?: string | null): string {
  if (value == null) return '—';
  return `${value.toLocaleString(undefined, { maximumFractionDigits: 2 })}${currency ? ` ${currency}` : ''}`;
}

/** ENUM_NAME → "enum name", for statuses and kinds shown as words. */
export function humanize(value: string): string {
  return value.toLowerCase().replaceAll('_', ' ');
}
