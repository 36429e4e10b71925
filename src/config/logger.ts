import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Credentials under these keys never reach a log line, whatever logged them. */
const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'headers.authorization',
  'key',
  '*.key',
  'adminApiKey',
  '*.adminApiKey',
  'password',
  '*.password',
];

const EMAIL = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g;

/**
 * Removes the values that SQL and PostgreSQL's messages carry: an unexpected database error's
 * message holds the statement with its parameters inlined (`values ('w@example.cn', …)`) and its
 * detail the offending value (`Key (email)=(w@example.cn) already exists`) or the whole row (a
 * check constraint's `Failing row contains (…)`: name, email, phone…). Statements and constraint
 * names stay, so a log still says what failed.
 */
export function scrubText(text: string): string {
  return text
    .replace(/'(?:[^']|'')*'/g, "'…'")
    .replace(/\)=\((?:[^()]|\([^()]*\))*\)/g, ')=(…)')
    .replace(/Failing row contains \(.*\)/g, 'Failing row contains (…)')
    .replace(/(invalid input (?:syntax|value) for (?:type|enum) [\w ".]+: )".*"/g, '$1"…"')
    .replace(/value ".*" (is out of range)/g, 'value "…" $1')
    .replace(/postgres(?:ql)?:\/\/\S+/g, 'postgres://…')
    .replace(EMAIL, '…@…');
}

/** Bound values of a statement, wherever a driver or ORM attaches them. */
const PARAMETER_KEYS = new Set(['params', 'parameters', 'bindings', 'values']);

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = PARAMETER_KEYS.has(key) ? '[redacted]' : scrub(item, depth + 1);
  }
  return out;
}

/** pino's error serializer, then scrubbed: logs hold no personal data at any level. */
export function serializeError(error: unknown): unknown {
  const serialized = error instanceof Error ? stdSerializers.err(error) : error;
  return scrub(serialized, 0);
}

export function createLogger(
  level: string,
  name = 'tagwise',
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError, error: serializeError },
    },
    destination,
  );
}
