import { unwrapResolverError } from '@apollo/server/errors';
import { OptimisticLockError } from '@mikro-orm/core';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from '../config/logger.js';
import { isDatabaseUnavailable } from '../modules/common/database.errors.js';
import { DomainError, ServiceUnavailableError } from '../modules/common/domain.errors.js';
import { ERROR_CODES } from './error-codes.js';

/** Codes graphql-js and Apollo give to malformed requests (parse, validation, variables). */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'CONCURRENCY_LIMITED',
]);

/** PostgreSQL's query_canceled: raised by statement_timeout (and by a cancel request). */
const QUERY_CANCELED = '57014';

/**
 * graphql-js quotes a value it could not coerce (`Variable "$input" got invalid value 13812345678
 * at "input[0].name"; String cannot represent a non string value: 13812345678`); it may be
 * personal data, and error messages travel into client logs. The message keeps where and why.
 */
export function withoutValues(message: string): string {
  return message
    .replace(/^(Variable "\$\w+" got )invalid value .*?( at "[^"]+")?; /s, '$1an invalid value$2; ')
    .replace(/^(Variable "\$\w+" got )invalid value .*$/s, '$1an invalid value')
    .replace(/(cannot represent [^:;]*?):.*$/s, '$1')
    .replace(/^(Expected value of type "[^"]+"), found .*$/s, '$1')
    .replace(/Value ".*" does not exist in ("\w+" enum)/s, 'The value does not exist in $1');
}

/**
 * What ran out of time: a statement cancelled by the request statement timeout, or one that waited
 * too long for a free connection of the request pools (knex's acquire timeout); null otherwise.
 */
function timedOut(error: unknown): 'statement' | 'connection' | null {
  if (!(error instanceof Error)) return null;
  if (/^Knex: Timeout acquiring a connection/.test(error.message)) return 'connection';
  const code = (error as { code?: unknown }).code;
  return code === QUERY_CANCELED && /statement timeout/.test(error.message) ? 'statement' : null;
}

/**
 * The error a field or the request failed with: a resolver's own error, or the domain error a
 * request-level GraphQLError carries (the database unavailable while creating the context).
 */
function causeOf(error: unknown): unknown {
  const original = unwrapResolverError(error);
  return original instanceof GraphQLError &&
    original.originalError instanceof ServiceUnavailableError
    ? original.originalError
    : original;
}

/**
 * The one error contract: domain errors map through ERROR_CODES, and so does an unreachable
 * database (SERVICE_UNAVAILABLE, retry later); request errors pass through; a
 * statement cancelled by the request statement timeout is QUERY_TIMEOUT naming the setting;
 * anything else is logged and masked as INTERNAL_SERVER_ERROR, with no SQL or stack outside
 * development.
 */
export function createFormatError(
  logger: Logger,
  exposeInternals: boolean,
  statementTimeoutMs = 0,
) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = causeOf(error);
    const base = { locations: formatted.locations, path: formatted.path };

    if (isDatabaseUnavailable(original)) {
      // The outage is logged where it is noticed (the supervisor, readiness); one line per
      // failed field here would flood the log while the database is down.
      logger.debug({ err: original, path: formatted.path }, 'database unavailable');
      const unavailable = new ServiceUnavailableError();
      return { ...base, message: unavailable.message, extensions: { code: 'SERVICE_UNAVAILABLE' } };
    }
    if (original instanceof DomainError) {
      return {
        ...base,
        message: original.message,
        extensions: { code: ERROR_CODES[original.kind], ...original.details },
      };
    }
    if (original instanceof OptimisticLockError) {
      return {
        ...base,
        message: 'The record was changed concurrently; reload and retry',
        extensions: { code: 'CONFLICT' },
      };
    }
    const timeout = timedOut(original);
    if (timeout) {
      logger.warn({ path: formatted.path, statementTimeoutMs, timeout }, 'request timed out');
      return {
        ...base,
        message:
          timeout === 'statement'
            ? `The query ran longer than the statement timeout of ${statementTimeoutMs} ms and was ` +
              'cancelled; ask for less (smaller pages, narrower conditions, fewer counts)'
            : 'The database had no free connection for this request in time; retry later',
        extensions: { code: 'QUERY_TIMEOUT', limit: 'statementTimeoutMs', max: statementTimeoutMs },
      };
    }
    const code = formatted.extensions?.code;
    if (
      original instanceof GraphQLError &&
      typeof code === 'string' &&
      REQUEST_ERROR_CODES.has(code)
    ) {
      // Variable coercion names the spot in its message; clients get it as the field too.
      const field =
        /^Variable "\$(\w+)" got invalid value .*? at "([^"]+)"/.exec(formatted.message)?.[2] ??
        /^Variable "\$(\w+)"/.exec(formatted.message)?.[1];
      const message = withoutValues(formatted.message);
      return field && code === 'BAD_USER_INPUT'
        ? { ...formatted, message, extensions: { ...formatted.extensions, field } }
        : { ...formatted, message };
    }
    logger.error({ err: original, path: formatted.path }, 'unexpected error');
    return {
      ...base,
      message: exposeInternals ? formatted.message : 'Internal server error',
      extensions: {
        code: 'INTERNAL_SERVER_ERROR',
        ...(exposeInternals && original instanceof Error ? { stack: original.stack } : {}),
      },
    };
  };
}
