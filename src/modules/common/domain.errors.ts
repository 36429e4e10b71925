/**
 * Errors services throw. They carry a kind, never a GraphQL code: src/graphql/error-codes.ts maps
 * kinds to codes, so the domain stays free of transport concerns.
 */
export type DomainErrorKind =
  'invalid_input' | 'not_found' | 'conflict' | 'unauthenticated' | 'forbidden' | 'unavailable';

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
  readonly details: Record<string, unknown>;

  protected constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** Bad input: names the offending field (e.g. `tagIds`, `input[3].email`). */
export class InvalidInputError extends DomainError {
  readonly kind = 'invalid_input';

  constructor(
    readonly field: string,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(message, { field, ...details });
  }
}

export class NotFoundError extends DomainError {
  readonly kind = 'not_found';

  /**
   * `field`: the input that named the id, when it was not the operation's own `id` argument
   * (`input.modelVersionId`); `missing`: how many of a list's ids do not exist, `id` the first.
   */
  constructor(
    entity: string,
    id: string,
    { field, missing }: { field?: string; missing?: number } = {},
  ) {
    super(
      `${field ? `${field}: ` : ''}${entity} ${id} does not exist` +
        (missing && missing > 1 ? ` (nor do ${missing - 1} more)` : ''),
      { entity, id, ...(field ? { field } : {}), ...(missing ? { missing } : {}) },
    );
  }
}

export class ConflictError extends DomainError {
  readonly kind = 'conflict';

  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, details);
  }
}

export class UnauthenticatedError extends DomainError {
  readonly kind = 'unauthenticated';

  constructor(message = 'An API key is required: send Authorization: Bearer <key>') {
    super(message);
  }
}

export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden';

  constructor(
    message = 'Your role does not allow this operation',
    details: Record<string, unknown> = {},
  ) {
    super(message, details);
  }
}

/** The database cannot be reached (down, restarting, refusing connections): retry shortly. */
export class ServiceUnavailableError extends DomainError {
  readonly kind = 'unavailable';

  constructor(message = 'The database is unavailable; retry shortly') {
    super(message);
  }
}

const ID_PATTERN = /^[1-9][0-9]{0,17}$/;

/** Ids are bigint primary keys exposed as strings. */
export function parseId(value: string, field: string): string {
  if (!ID_PATTERN.test(value))
    throw new InvalidInputError(field, `${field}: "${value}" is not a valid id`);
  return value;
}

export function parseIds(values: readonly string[], field: string): string[] {
  return [...new Set(values.map((v) => parseId(v, field)))];
}
