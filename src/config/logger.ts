import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { AppConfig, LogFormat } from './env.js';

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

/**
 * `pretty` writes pino-pretty's lines for people at a terminal instead of JSON. Redaction and the
 * serializers run before either format sees a line, so both hold the same (scrubbed) values.
 */
export function createLogger(
  level: string,
  name = 'tagwise',
  destination?: DestinationStream,
  format: LogFormat = 'json',
): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError, error: serializeError },
    },
    format === 'pretty'
      ? pretty({
          destination: destination ?? 1,
          // Synchronous like pino's own standard output: a CLI's last lines survive its exit.
          sync: true,
          // A stream handed in is a file or a test, not a terminal.
          ...(destination ? { colorize: false } : {}),
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
        })
      : destination,
  );
}

/** The logger of a process started from the configuration: its level (unless given) and format. */
export function configuredLogger(
  config: Pick<AppConfig, 'logLevel' | 'logFormat'>,
  name?: string,
  level: string = config.logLevel,
): Logger {
  return createLogger(level, name, undefined, config.logFormat);
}
