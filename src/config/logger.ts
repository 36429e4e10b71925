import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'tagwise'): Logger {
  return pino({ name, level });
}
