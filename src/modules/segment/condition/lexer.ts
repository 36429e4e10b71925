import { ConditionSyntaxError } from './errors.js';

export type TokenKind = 'word' | 'number' | 'string' | 'symbol' | 'eof';

export interface Token {
  kind: TokenKind;
  /** Words and numbers as written, strings decoded, symbols in their ASCII spelling. */
  value: string;
  /** Offsets into the text: [start, end). */
  start: number;
  end: number;
}

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WORD = /[\p{L}\p{N}_][\p{L}\p{N}_-]*/uy;
/** A character that would continue a word: `30d` and `2024-vip` are words, not numbers. */
const WORD_CONTINUES = /[\p{L}\p{N}_-]/u;
const SYMBOLS: [string, string][] = [
  ['!=', '!='],
  ['<=', '<='],
  ['>=', '>='],
  ['≠', '!='],
  ['≤', '<='],
  ['≥', '>='],
  ['(', '('],
  [')', ')'],
  [',', ','],
  [':', ':'],
  ['.', '.'],
  ['=', '='],
  ['<', '<'],
  ['>', '>'],
];
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

export function syntaxError(text: string, position: number, reason: string): ConditionSyntaxError {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return new ConditionSyntaxError(reason, position, line, position - lineStart + 1);
}

function matchAt(pattern: RegExp, text: string, at: number): string | undefined {
  pattern.lastIndex = at;
  return pattern.exec(text)?.[0];
}

/** Strings are JSON strings: double quotes, backslash escapes, \u and four hex digits. */
function readString(text: string, start: number): Token {
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') return { kind: 'string', value, start, end: i + 1 };
    if (ch !== '\\') {
      value += ch;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === 'u') {
      const hex = text.slice(i + 2, i + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw syntaxError(text, i, 'invalid escape "\\u"');
      value += String.fromCharCode(parseInt(hex, 16));
      i += 6;
    } else if (next !== undefined && Object.hasOwn(ESCAPES, next)) {
      value += ESCAPES[next];
      i += 2;
    } else {
      throw syntaxError(text, i, `invalid escape "\\${next ?? ''}"`);
    }
  }
  throw syntaxError(text, start, 'unterminated string');
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '"') {
      const token = readString(text, i);
      tokens.push(token);
      i = token.end;
      continue;
    }
    const number = matchAt(NUMBER, text, i);
    if (number !== undefined) {
      const after = text[i + number.length];
      if (after === undefined || !WORD_CONTINUES.test(after)) {
        tokens.push({ kind: 'number', value: number, start: i, end: i + number.length });
        i += number.length;
        continue;
      }
      if (ch === '-') throw syntaxError(text, i, 'unexpected character "-"');
    }
    const word = matchAt(WORD, text, i);
    if (word !== undefined) {
      tokens.push({ kind: 'word', value: word, start: i, end: i + word.length });
      i += word.length;
      continue;
    }
    const symbol = SYMBOLS.find(([spelling]) => text.startsWith(spelling, i));
    if (!symbol) {
      const char = String.fromCodePoint(text.codePointAt(i)!);
      throw syntaxError(text, i, `unexpected character ${JSON.stringify(char)}`);
    }
    tokens.push({ kind: 'symbol', value: symbol[1], start: i, end: i + symbol[0].length });
    i += symbol[0].length;
  }
  tokens.push({ kind: 'eof', value: '', start: text.length, end: text.length });
  return tokens;
}
