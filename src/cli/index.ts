import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/env.js';
import { DatabaseStartError } from '../config/database.js';
import { scrubText } from '../config/logger.js';
import { DomainError } from '../modules/common/domain.errors.js';
import { ImportError } from '../modules/import/import.errors.js';
import { registerApiKeyCommand } from './apikey.js';
import { registerAuditCommand } from './audit.js';
import { registerFeaturesCommand } from './features.js';
import { registerImportCommand } from './import.js';
import { registerMigrateCommand } from './migrate.js';
import { registerModelsCommand } from './models.js';
import { registerRulesCommand } from './rules.js';
import { registerSchemaCommand } from './schema.js';
import { registerScoreCommand } from './score.js';
import { registerSeedCommand } from './seed.js';
import { registerSegmentsCommand } from './segments.js';
import { registerSuggestCommand } from './suggest.js';
import { registerTrainCommand } from './train.js';
import { registerTraitsCommand } from './traits.js';
import { registerWorkerCommand } from './worker.js';

const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
};

export function buildProgram(): Command {
  const program = new Command('tagwise')
    .description('Tagwise: CRM customer tagging service')
    .showHelpAfterError()
    .exitOverride();
  registerMigrateCommand(program);
  registerSeedCommand(program);
  registerFeaturesCommand(program);
  registerTrainCommand(program);
  registerModelsCommand(program);
  registerScoreCommand(program);
  registerSuggestCommand(program);
  registerImportCommand(program);
  registerApiKeyCommand(program);
  registerSchemaCommand(program);
  registerSegmentsCommand(program);
  registerRulesCommand(program);
  registerTraitsCommand(program);
  registerAuditCommand(program);
  registerWorkerCommand(program);
  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  // `tagwise features list | head` closes the pipe early. Unhandled, the write error kills the
  // process before the command closes the embedded database, which then runs on, orphaned.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    // The reader left (`| head`) with what it wanted; streamed output ends there, not in failure.
    if ((error as NodeJS.ErrnoException | null)?.code === 'EPIPE') return;
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    // Problems a person can fix get one line, not a stack trace.
    if (
      error instanceof ConfigError ||
      error instanceof DatabaseStartError ||
      error instanceof DomainError ||
      error instanceof ImportError
    ) {
      console.error(error.message);
      process.exitCode = 1;
      return;
    }
    // A file that cannot be opened (a mistyped path, a missing directory) is the person's to fix.
    const system = error as NodeJS.ErrnoException | null;
    if (system?.path && system.code && FILE_PROBLEMS[system.code]) {
      console.error(`${system.path}: ${FILE_PROBLEMS[system.code]}`);
      process.exitCode = 1;
      return;
    }
    // Unexpected: often a database error, whose message and detail carry the statement's values
    // (a customer's name, email, phone). Standard error ends up in cron mails and CI logs.
    console.error(
      scrubText(error instanceof Error ? (error.stack ?? error.message) : String(error)),
    );
    process.exitCode = 1;
  }
}
