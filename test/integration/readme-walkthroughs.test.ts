import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/index.js';
import { freePort, ROOT, spawnServer } from '../support/processes.js';
import { readmeBlocks, type ReadmeBlock } from '../support/readme.js';

/*
 * Every command line of README.md's walkthroughs runs here, in order, as a reader would type it:
 * the ```sh blocks under a "Walkthrough: …" heading, read from README.md itself. Each line must be
 * one this file knows how to run — `export`, `npx tagwise …`, `npm start` — or a `#` comment (the
 * output the reader should see, not checked); any other line fails, so a new step cannot be
 * skipped silently. The walkthrough's data directory and PostgreSQL port become a scratch
 * directory and a free port. Outside walkthroughs, a ```sh block holding an `npx tagwise` line
 * must be marked ```sh synopsis (usage with placeholders, not run): its commands and options are
 * checked against the CLI instead.
 */

const TAGWISE = /^npx tagwise(?:\s|$)/;
const KEY = /\btw_[\w-]+/;

interface Line {
  text: string;
  line: number;
}

/** The block's lines with `\` continuations joined, without blank lines. */
function linesOf(block: ReadmeBlock): Line[] {
  const lines: Line[] = [];
  let pending: Line | null = null;
  block.code.split('\n').forEach((raw, i) => {
    const text = raw.trim();
    const current: Line = pending
      ? { text: `${pending.text} ${text}`, line: pending.line }
      : { text, line: block.line + 1 + i };
    if (current.text.endsWith('\\')) {
      pending = { text: current.text.slice(0, -1).trim(), line: current.line };
      return;
    }
    pending = null;
    if (current.text) lines.push(current);
  });
  return lines;
}

/** Shell words: spaces split, quotes group (no expansion: README's lines need none). */
function wordsOf(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

function subcommand(program: Command, words: string[]): Command {
  let command = program;
  for (const word of words) {
    const next = command.commands.find((c) => c.name() === word);
    if (!next) break;
    command = next;
  }
  return command;
}

const blocks = readmeBlocks();
const walkthroughBlocks = blocks.filter(
  (b) => b.lang === 'sh' && b.heading.startsWith('Walkthrough') && !b.flags.includes('synopsis'),
);

describe('README command lines', () => {
  it('outside walkthroughs appear only in blocks marked synopsis, naming real commands and options', () => {
    const program = buildProgram();
    const synopsis = blocks.filter((b) => b.lang === 'sh' && b.flags.includes('synopsis'));
    expect(synopsis.length).toBeGreaterThan(0);
    for (const block of blocks.filter((b) => b.lang === 'sh' && !walkthroughBlocks.includes(b))) {
      for (const { text, line } of linesOf(block).filter((l) => TAGWISE.test(l.text))) {
        expect(block.flags, `README.md:${line}: ${text} is in no walkthrough`).toContain(
          'synopsis',
        );
        const words = wordsOf(text).slice(2);
        const command = subcommand(program, words);
        expect(command, `README.md:${line}: no command ${words[0]}`).not.toBe(program);
        const options = command.options.map((o) => o.long);
        for (const option of text.match(/--[a-z][\w-]*/g) ?? []) {
          expect(options, `README.md:${line}: ${command.name()} has no ${option}`).toContain(
            option,
          );
        }
      }
    }
  });
});

describe('README walkthroughs', () => {
  const lines = walkthroughBlocks.flatMap(linesOf).filter((l) => !l.text.startsWith('#'));
  let scratch: string;
  let env: NodeJS.ProcessEnv;
  let apiKey: string | undefined;

  beforeAll(async () => {
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-walkthrough-'));
    env = {
      // The walkthrough's own embedded database, even when the suite runs with DATABASE_URL.
      DATABASE_URL: undefined,
      ADMIN_API_KEY: undefined,
      TAGWISE_API_KEY: undefined,
      // Model folders go to the scratch directory (the data directory), not the repository's.
      TAGWISE_MODELS_DIR: path.join(scratch, 'models'),
    };
  });
  afterAll(async () => {
    if (scratch) await fs.rm(scratch, { recursive: true, force: true });
  });

  it('exist, and keep the demo out of the campaign data directory', () => {
    expect(lines.some((l) => TAGWISE.test(l.text))).toBe(true);
    // A walkthrough's data directory gets a PostgreSQL port of its own and never the demo, which
    // `npm start` would otherwise generate into it on its first start.
    const dataDirs = lines
      .filter((l) => l.text.startsWith('export ') && l.text.includes('TAGWISE_DATA_DIR='))
      .map((l) => wordsOf(l.text).slice(1));
    expect(dataDirs.length).toBeGreaterThan(0);
    for (const assignments of dataDirs) {
      expect(assignments).toContain('TAGWISE_DEMO=0');
      expect(assignments).toContainEqual(expect.stringMatching(/^TAGWISE_PG_PORT=\d+$/));
    }
  });

  for (const { text, line } of lines) {
    it(`README.md:${line}: ${text}`, async () => {
      const words = wordsOf(text);
      if (words[0] === 'export') {
        for (const assignment of words.slice(1)) {
          const [name, value] = assignment.split(/=(.*)/s) as [string, string];
          if (name === 'TAGWISE_DATA_DIR') env[name] = scratch;
          else if (name === 'TAGWISE_PG_PORT') env[name] = String(await freePort());
          else env[name] = value;
        }
        return;
      }
      if (TAGWISE.test(text)) {
        // What `npx tagwise` runs (package.json's bin), without npx's own start-up.
        const result = await promisify(execFile)(
          process.execPath,
          [path.join(ROOT, 'bin/tagwise.js'), ...words.slice(2)],
          { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 },
        ).catch((error: { code: number; stdout: string; stderr: string }) => error);
        const failed = 'code' in result && result.code !== 0;
        expect(failed ? `exit ${result.code}: ${result.stderr}` : '').toBe('');
        expect(result.stderr).not.toMatch(/^\s+at /m);
        apiKey = KEY.exec(result.stdout)?.[0] ?? apiKey;
        return;
      }
      if (text === 'npm start') {
        const port = await freePort();
        // No job worker process: nothing here queues a run, and it would only take CPU. At info,
        // the log would say so if the demo were generated.
        const server = spawnServer({
          ...env,
          PORT: String(port),
          TAGWISE_WORKERS: '0',
          LOG_LEVEL: 'info',
        });
        try {
          await server.saw('Tagwise GraphQL API at');
          expect(server.output()).not.toContain('generating demo data');
          if (apiKey) {
            const answer = await fetch(`http://127.0.0.1:${port}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
              body: JSON.stringify({
                query: '{ customers { totalCount } activeModelVersion { status } }',
              }),
            }).then((r) => r.json());
            // The campaign's customers only (the one walkthrough that starts the server), and the
            // model it promoted.
            expect(answer).toEqual({
              data: { customers: { totalCount: 2240 }, activeModelVersion: { status: 'ACTIVE' } },
            });
          }
          server.child.kill('SIGTERM');
          expect(await server.exited).toBe(0);
        } finally {
          server.child.kill('SIGKILL');
        }
        return;
      }
      throw new Error(`README.md:${line}: no way to run "${text}": teach this test, or change it`);
    }, 120_000);
  }
});
