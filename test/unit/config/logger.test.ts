import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { LogFormat } from '../../../src/config/env.js';
import { createLogger, scrubText } from '../../../src/config/logger.js';

function capture(format: LogFormat = 'json') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger('trace', 'test', destination, format);
  return { logger, text: () => lines.join('') };
}

describe('logging keeps personal data and secrets out', () => {
  it('scrubs the values out of a database error, keeping what failed', () => {
    const error = Object.assign(
      new Error(
        `insert into "customer" ("email", "phone") values ('wang.li@example.cn', '13812345678') - duplicate key value violates unique constraint "customer_email_unique"`,
      ),
      {
        code: '23505',
        detail: 'Key (email)=(wang.li@example.cn) already exists.',
        params: ['wang.li@example.cn', '13812345678'],
        cause: new Error('connect to postgres://tagwise:s3cret@db:5432/tagwise failed'),
      },
    );
    const { logger, text } = capture();
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) {
      logger[level]({ err: error }, 'unexpected error');
    }
    const logged = text();
    for (const secret of ['wang.li', '13812345678', 's3cret', 'example.cn']) {
      expect(logged).not.toContain(secret);
    }
    expect(logged).toContain('customer_email_unique');
    expect(logged).toContain('Key (email)=(…) already exists.');
    expect(logged).toContain('"code":"23505"');
  });

  it('redacts credentials under known keys', () => {
    const { logger, text } = capture();
    logger.info(
      {
        headers: { authorization: 'Bearer tw_secret-key' },
        config: { adminApiKey: 'admin-secret' },
      },
      'request',
    );
    expect(text()).not.toContain('tw_secret-key');
    expect(text()).not.toContain('admin-secret');
  });

  it('scrubs the row a check constraint quotes, and values PostgreSQL could not read', () => {
    const scrubbed = scrubText(
      [
        'new row for relation "customer" violates check constraint "customer_email_check"',
        'DETAIL:  Failing row contains (7, c-1, 王伟, wei@example.cn, 13812345678, null).',
        'invalid input syntax for type integer: "王伟 13812345678"',
        'invalid input value for enum "role": "13812345678"',
        'value "13812345678" is out of range for type integer',
      ].join('\n'),
    );
    for (const secret of ['王伟', 'wei', '13812345678']) expect(scrubbed).not.toContain(secret);
    expect(scrubbed).toContain('customer_email_check');
    expect(scrubbed).toContain('Failing row contains (…)');
    expect(scrubbed).toContain('invalid input syntax for type integer: "…"');
  });

  it('keeps statements readable', () => {
    expect(scrubText(`select * from tag where key = 'wine-lover' and id = 3`)).toBe(
      `select * from tag where key = '…' and id = 3`,
    );
  });
});

describe('LOG_FORMAT=pretty', () => {
  it('writes lines for people, not JSON, scrubbed and redacted as JSON lines are', () => {
    const error = Object.assign(
      new Error(`insert into "customer" ("email") values ('wang.li@example.cn') - duplicate key`),
      { detail: 'Key (email)=(wang.li@example.cn) already exists.', params: ['13812345678'] },
    );
    const { logger, text } = capture('pretty');
    logger.warn(
      { err: error, headers: { authorization: 'Bearer tw_secret-key' } },
      'import failed',
    );
    const logged = text();
    expect(() => JSON.parse(logged.split('\n')[0]!)).toThrow();
    expect(logged).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] WARN \(test\): import failed$/m);
    // A stream handed in is not a terminal: no colour codes.
    expect(logged).not.toContain('\u001b[');
    for (const secret of ['wang.li', 'example.cn', '13812345678', 'tw_secret-key']) {
      expect(logged).not.toContain(secret);
    }
    expect(logged).toContain('Key (email)=(…) already exists.');
  });
});
