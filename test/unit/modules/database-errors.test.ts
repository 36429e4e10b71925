import { ConnectionException, UniqueConstraintViolationException } from '@mikro-orm/core';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/config/logger.js';
import { createFormatError } from '../../../src/graphql/format-error.js';
import { isDatabaseUnavailable } from '../../../src/modules/common/database.errors.js';

const coded = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('an unreachable database is told apart from a failed statement', () => {
  it.each([
    ['a refused connection', coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5433')],
    ['a reset connection', coded('ECONNRESET')],
    ['admin_shutdown', coded('57P01', 'terminating connection due to administrator command')],
    ['crash_shutdown', coded('57P02')],
    ['cannot_connect_now', coded('57P03', 'the database system is starting up')],
    ['a connection exception', coded('08006')],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
    ['a connect timeout', new Error('Connection terminated due to connection timeout')],
    ['a wrapped cause', new Error('query failed', { cause: coded('ECONNREFUSED') })],
    ['MikroORM wrapping the driver', new ConnectionException(coded('57P01'))],
    ['every address refused', new AggregateError([coded('ECONNREFUSED')], 'connect failed')],
  ])('%s is unavailable', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', new UniqueConstraintViolationException(coded('23505'))],
    ['a statement timeout', coded('57014', 'canceling statement due to statement timeout')],
    [
      'a pool that is full',
      new Error('Knex: Timeout acquiring a connection. The pool is probably full.'),
    ],
    ['a plain error', new Error('boom')],
    ['no error at all', 'ECONNREFUSED'],
  ])('%s is not', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});

describe('formatError with the database down', () => {
  const format = createFormatError(createLogger('silent'), true);

  it('answers SERVICE_UNAVAILABLE without the driver message or a stack, even in development', () => {
    const cause = coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5433');
    const error = new GraphQLError(cause.message, { path: ['tags'], originalError: cause });
    expect(format({ message: cause.message, path: ['tags'] }, error)).toEqual({
      message: 'The database is unavailable; retry shortly',
      path: ['tags'],
      locations: undefined,
      extensions: { code: 'SERVICE_UNAVAILABLE' },
    });
  });
});
