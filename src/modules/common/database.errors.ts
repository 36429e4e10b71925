/**
 * Errors that say the database cannot be reached rather than that a statement failed: the socket
 * was refused or dropped, the server is shutting down or starting up (57P01 admin_shutdown, 57P02
 * crash_shutdown, 57P03 cannot_connect_now), or a connection exception (class 08).
 */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01',
  '57P02',
  '57P03',
]);

/**
 * node-postgres reports a dropped or timed-out connection only in its message, and a client that
 * lost its connection refuses further queries with one of its own.
 */
const UNREACHABLE_MESSAGES =
  /^(Connection terminated|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)/;

/**
 * Whether an error (or one it wraps: MikroORM's exceptions copy the driver's code, knex and
 * MikroORM keep a `cause`) means the database is unreachable, so the request may succeed if
 * retried once it is back.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) {
      return true;
    }
    if (UNREACHABLE_MESSAGES.test(current.message)) return true;
    // A host name with several addresses fails with one error per address.
    if (current instanceof AggregateError && current.errors.some(isDatabaseUnavailable))
      return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
