import type { Attributes, AttributeValue } from '../customer/customer.entity.js';

/**
 * How personal data looks to a key without the PII permission. Every mask shows at most a fixed
 * prefix and suffix and a fixed number of stars, so the output never depends on the hidden part —
 * not even on its length (test/unit/access/pii.test.ts checks exactly that, with fast-check).
 */

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function firstGrapheme(text: string): { first: string; rest: boolean } {
  const iterator = graphemes.segment(text)[Symbol.iterator]();
  const first = iterator.next();
  if (first.done) return { first: '', rest: false };
  return { first: first.value.segment, rest: !iterator.next().done };
}

/**
 * `wei@example.cn` → `w***@example.cn`: the first character of the local part (when it has more
 * than one), three stars, the domain. Text without an `@` is masked as a whole (`***`).
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 0) return '***';
  const { first, rest } = firstGrapheme(email.slice(0, at));
  return `${rest ? first : ''}***${email.slice(at)}`;
}

/**
 * `13812345678` → `138****5678`. Only digits count (spaces, dashes, `+` and brackets go): 11 or
 * more keep the first three and the last four, 7 to 10 the last two, fewer none; the middle is
 * always four stars.
 */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  if (digits.length >= 11) return `${digits.slice(0, 3)}****${digits.slice(-4)}`;
  if (digits.length >= 7) return `****${digits.slice(-2)}`;
  return '****';
}

/**
 * `张三` → `张*`, `Wei Wang` → `W*`: the first character and one star whatever the length; a
 * one-character name is a star; an empty name stays empty (it says nothing).
 */
export function maskName(name: string): string {
  const { first, rest } = firstGrapheme(name);
  if (!first) return '';
  return rest ? `${first}*` : '*';
}

/**
 * A personal trait's value: strings become `***` (no first letter: in a short list of categories
 * it would give the value away); numbers and booleans become null, which a stored trait never is
 * (null removes a key), so null means "withheld" and numeric clients do not meet a string.
 */
export function maskAttributeValue(value: AttributeValue): AttributeValue {
  return typeof value === 'string' ? '***' : null;
}

/** The traits with every key in `personal` masked; the others as they are. */
export function maskAttributes(attributes: Attributes, personal: ReadonlySet<string>): Attributes {
  const masked: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    masked[key] = personal.has(key) ? maskAttributeValue(value) : value;
  }
  return masked;
}
