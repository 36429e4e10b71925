import {
  isProfileField,
  LIMITS,
  type ComparisonOp,
  type Comparison,
  type Condition,
  type EventCount,
  type Scalar,
  type TagMatch,
} from './ast.js';
import { syntaxError, tokenize, type Token } from './lexer.js';

const COMPARATORS: Record<string, ComparisonOp> = {
  '=': 'EQ',
  '!=': 'NE',
  '<': 'LT',
  '<=': 'LTE',
  '>': 'GT',
  '>=': 'GTE',
};
const TAG_SETS = { any: 'anyOf', all: 'allOf', none: 'noneOf' } as const;
/** Parentheses and NOTs; deeper text cannot make a valid tree and would only exhaust the stack. */
const MAX_NESTING = LIMITS.depth * 2;

/**
 * Parses the text form (see the grammar in the README) into a tree. Keywords are
 * case-insensitive; names and values are not.
 * @throws ConditionSyntaxError with the offending position
 */
export function parseCondition(text: string): Condition {
  return new Parser(text, tokenize(text)).parse();
}

class Parser {
  private index = 0;

  constructor(
    private readonly text: string,
    private readonly tokens: Token[],
  ) {}

  parse(): Condition {
    const condition = this.or(0);
    if (this.peek().kind !== 'eof') this.fail('AND, OR or end of input');
    return condition;
  }

  private or(depth: number): Condition {
    const operands = [this.and(depth)];
    while (this.isWord(this.peek(), 'or')) {
      this.next();
      operands.push(this.and(depth));
    }
    return operands.length === 1 ? operands[0]! : { or: operands };
  }

  private and(depth: number): Condition {
    const operands = [this.unary(depth)];
    while (this.isWord(this.peek(), 'and')) {
      this.next();
      operands.push(this.unary(depth));
    }
    return operands.length === 1 ? operands[0]! : { and: operands };
  }

  private unary(depth: number): Condition {
    const token = this.peek();
    if (depth >= MAX_NESTING) {
      throw syntaxError(this.text, token.start, `conditions nest at most ${MAX_NESTING} deep`);
    }
    if (this.isWord(token, 'not')) {
      this.next();
      return { not: this.unary(depth + 1) };
    }
    if (this.isSymbol(token, '(')) {
      this.next();
      const condition = this.or(depth + 1);
      this.expectSymbol(')');
      return condition;
    }
    return this.predicate();
  }

  private predicate(): Condition {
    const token = this.peek();
    if (token.kind !== 'word') return this.fail('a condition');
    const word = token.value.toLowerCase();
    const following = this.peek(1);
    if (this.isSymbol(following, ':')) {
      this.next();
      this.next();
      switch (word) {
        case 'tag':
          return { tag: this.tagMatch() };
        case 'category':
          return { category: this.key('a category key') };
        case 'segment':
          return { segment: this.key('a segment key') };
        case 'cluster':
          return { cluster: this.cluster() };
        case 'event':
          return { events: this.eventShorthand() };
        default:
          throw syntaxError(this.text, token.start, `unknown predicate "${token.value}:"`);
      }
    }
    if (word === 'events' && this.isSymbol(following, '(')) return { events: this.eventCount() };
    if ((word === 'attr' || word === 'feature') && this.isSymbol(following, '.')) {
      this.next();
      this.next();
      if (word === 'attr')
        return { attribute: { key: this.key('an attribute key'), ...this.comparison() } };
      return { feature: { name: this.key('a feature name'), ...this.comparison() } };
    }
    this.next();
    if (isProfileField(word)) return { field: { name: word, ...this.comparison() } };
    return { feature: { name: token.value, ...this.comparison() } };
  }

  private tagMatch(): TagMatch {
    const token = this.peek();
    const word = token.kind === 'word' ? token.value.toLowerCase() : '';
    if (Object.hasOwn(TAG_SETS, word) && this.isSymbol(this.peek(1), '(')) {
      this.next();
      this.next();
      const keys = [this.key('a tag key')];
      while (this.isSymbol(this.peek(), ',')) {
        this.next();
        keys.push(this.key('a tag key'));
      }
      this.expectSymbol(')');
      const set = TAG_SETS[word as keyof typeof TAG_SETS];
      return { [set]: keys } as TagMatch;
    }
    return { has: this.key('a tag key') };
  }

  private cluster(): { id: string } | { index: number } {
    if (this.isWord(this.peek(), 'id') && this.isSymbol(this.peek(1), ':')) {
      this.next();
      this.next();
      return { id: this.digits('a cluster id') };
    }
    return { index: Number(this.digits('a cluster index')) };
  }

  private eventShorthand(): EventCount {
    const type = this.eventType();
    return { ...type, withinDays: this.within(), op: 'GTE', count: 1 };
  }

  private eventCount(): EventCount {
    this.next();
    this.next();
    const type = this.eventType();
    let category: { category?: string } = {};
    if (this.isSymbol(this.peek(), ',')) {
      this.next();
      this.expectWord('category');
      category = { category: this.string('a category') };
    }
    this.expectSymbol(')');
    const op = this.comparator();
    if (!op) return this.fail('a comparison operator');
    const count = Number(this.digits('a whole number'));
    return { ...type, ...category, withinDays: this.within(), op, count };
  }

  private eventType(): { type?: string } {
    const token = this.peek();
    if (this.isWord(token, 'any')) {
      this.next();
      return {};
    }
    if (token.kind === 'word' || token.kind === 'string') {
      this.next();
      return { type: token.value };
    }
    return this.fail('an event type or ANY');
  }

  /** `within 30d` or `within 30 days`. */
  private within(): number {
    this.expectWord('within');
    const token = this.peek();
    const compact = token.kind === 'word' ? /^(\d+)d$/i.exec(token.value) : null;
    if (compact) {
      this.next();
      return Number(compact[1]);
    }
    if (token.kind === 'number' && /^\d+$/.test(token.value)) {
      const unit = this.peek(1);
      if (this.isWord(unit, 'days') || this.isWord(unit, 'day')) {
        this.next();
        this.next();
        return Number(token.value);
      }
    }
    return this.fail('a duration like 30d');
  }

  private comparison(): Comparison {
    const op = this.comparator();
    if (op) return { op, value: this.value() };
    const token = this.peek();
    if (token.kind !== 'word') return this.fail('an operator');
    switch (token.value.toLowerCase()) {
      case 'between': {
        this.next();
        const low = this.bound();
        this.expectWord('and');
        return { op: 'BETWEEN', low, high: this.bound() };
      }
      case 'not':
        this.next();
        this.expectWord('in');
        return { op: 'NOT_IN', values: this.valueList() };
      case 'in':
        this.next();
        return { op: 'IN', values: this.valueList() };
      case 'exists':
        this.next();
        return { op: 'EXISTS' };
      case 'contains':
        this.next();
        return { op: 'CONTAINS', value: this.string('a string') };
      case 'starts':
        this.next();
        this.expectWord('with');
        return { op: 'STARTS_WITH', value: this.string('a string') };
      default:
        return this.fail('an operator');
    }
  }

  private comparator(): ComparisonOp | undefined {
    const token = this.peek();
    if (token.kind !== 'symbol' || !Object.hasOwn(COMPARATORS, token.value)) return undefined;
    this.next();
    return COMPARATORS[token.value];
  }

  private valueList(): Scalar[] {
    this.expectSymbol('(');
    const values = [this.value()];
    while (this.isSymbol(this.peek(), ',')) {
      this.next();
      values.push(this.value());
    }
    this.expectSymbol(')');
    return values;
  }

  private value(): Scalar {
    const token = this.peek();
    if (this.isWord(token, 'true') || this.isWord(token, 'false')) {
      this.next();
      return token.value.toLowerCase() === 'true';
    }
    return this.literal('a value');
  }

  /** BETWEEN bounds: booleans have no order. */
  private bound(): number | string {
    return this.literal('a number or a string');
  }

  private literal(what: string): number | string {
    const token = this.peek();
    if (token.kind === 'string') {
      this.next();
      return token.value;
    }
    if (token.kind !== 'number') return this.fail(what);
    const value = Number(token.value);
    if (!Number.isFinite(value)) throw syntaxError(this.text, token.start, 'number out of range');
    this.next();
    // -0 would print as 0; one spelling keeps print(parse(text)) canonical.
    return value === 0 ? 0 : value;
  }

  /** A word, dotted words (`address.city`) or a quoted string. */
  private key(what: string): string {
    const token = this.peek();
    if (token.kind === 'string') {
      this.next();
      return token.value;
    }
    if (token.kind !== 'word') return this.fail(what);
    this.next();
    let key = token.value;
    while (this.isSymbol(this.peek(), '.') && this.peek(1).kind === 'word') {
      this.next();
      key += `.${this.next().value}`;
    }
    return key;
  }

  private string(what: string): string {
    const token = this.peek();
    if (token.kind !== 'string') return this.fail(what);
    this.next();
    return token.value;
  }

  private digits(what: string): string {
    const token = this.peek();
    if (token.kind !== 'number' || !/^\d+$/.test(token.value)) return this.fail(what);
    this.next();
    return token.value;
  }

  private expectSymbol(symbol: string): void {
    if (!this.isSymbol(this.peek(), symbol)) this.fail(`"${symbol}"`);
    this.next();
  }

  private expectWord(word: string): void {
    if (!this.isWord(this.peek(), word)) this.fail(`"${word}"`);
    this.next();
  }

  private fail(what: string): never {
    const token = this.peek();
    const previous = this.tokens[this.index - 1];
    const after = previous ? ` after "${this.text.slice(previous.start, previous.end)}"` : '';
    throw syntaxError(this.text, token.start, `expected ${what}${after}`);
  }

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.index++;
    return token;
  }

  private isWord(token: Token, word: string): boolean {
    return token.kind === 'word' && token.value.toLowerCase() === word;
  }

  private isSymbol(token: Token, symbol: string): boolean {
    return token.kind === 'symbol' && token.value === symbol;
  }
}
