import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/index.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

const tagwise = (...args: string[]): Promise<{ code?: number; stdout: string; stderr: string }> =>
  promisify(execFile)('node', [path.join(ROOT, 'bin/tagwise.js'), ...args], { cwd: ROOT }).catch(
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

// Commands declare themselves with light imports and load their modules when they run, so these
// start without a database; what they print must not depend on what loaded.
describe('tagwise without a database', () => {
  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8'));
    const result = await tagwise('--version');
    expect(result.stdout).toBe(`${version}\n`);
  });

  it('--help lists every command', async () => {
    const names = buildProgram().commands.map((c) => c.name());
    expect(names).toEqual(expect.arrayContaining(['migrate', 'train', 'import', 'apikey']));
    const { stdout } = await tagwise('--help');
    const listed = [...stdout.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]);
    expect(listed).toEqual([...names, 'help']);
  });

  it('an import subcommand prints its field table and checks --delimiter', async () => {
    const help = await tagwise('import', 'customers', '--help');
    expect(help.stdout).toMatch(/^ {2}externalId +text up to 200 characters \(required\)$/m);
    expect(help.stdout).toContain('"_row" names the row number');

    const refused = await tagwise('import', 'customers', 'x.csv', '--delimiter', 'xx');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "error: option '--delimiter <char>' argument 'xx' is invalid. delimiter must be one character",
    );
  });

  it('--role is checked as the command line is parsed', async () => {
    const refused = await tagwise('apikey', 'create', '--role', 'nope', '--name', 'x');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('must be one of VIEWER, REVIEWER, DATA_SCIENTIST, ADMIN');
  });
});
