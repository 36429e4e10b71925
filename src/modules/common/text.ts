/**
 * Text PostgreSQL cannot store: a NUL character (text columns refuse it) or a UTF-16 surrogate
 * without its pair (it has no UTF-8 encoding). Either would reach the database as an error.
 */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** Levels of lists and objects a client value may nest: a condition tree 20 deep needs about 45. */
export const MAX_INPUT_NESTING = 100;

export interface InputProblem {
  /** Where: `input.tags[2].name`. */
  path: string;
  reason: string;
}

/**
 * The first place in a client's value holding text PostgreSQL cannot store, or nesting deeper
 * than MAX_INPUT_NESTING, or null. Iterative, so a value nested thousands deep is refused without
 * exhausting the stack (as coercing or validating it recursively would).
 */
export function findInputProblem(value: unknown, path: string): InputProblem | null {
  const stack: [unknown, string, number][] = [[value, path, 0]];
  while (stack.length > 0) {
    const [item, at, depth] = stack.pop()!;
    if (typeof item === 'string') {
      if (!isStorableText(item)) return { path: at, reason: UNSTORABLE_REASON };
      continue;
    }
    if (item === null || typeof item !== 'object') continue;
    if (depth >= MAX_INPUT_NESTING) {
      return { path: at, reason: `nested deeper than ${MAX_INPUT_NESTING} levels` };
    }
    if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) stack.push([item[i], `${at}[${i}]`, depth + 1]);
      continue;
    }
    const entries = Object.entries(item);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      if (!isStorableText(key)) return { path: at, reason: UNSTORABLE_REASON };
      stack.push([child, at ? `${at}.${key}` : key, depth + 1]);
    }
  }
  return null;
}

export const UNSTORABLE_REASON =
  'text may not contain NUL characters or unpaired UTF-16 surrogates';
