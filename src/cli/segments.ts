import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ForbiddenError } from '../modules/common/domain.errors.js';
import { API_KEY_OPTION, readerFor, withDatabase } from './context.js';

export function registerSegmentsCommand(program: Command): void {
  const segments = program.command('segments').description('saved customer segments');
  segments
    .command('export <key>')
    .description('write the members of a saved segment as CSV (streamed, any size)')
    .option('--out <file>', 'write to this file instead of standard output')
    .option(
      '--show-personal',
      'write name, email and phone in clear (masked by default, as for API keys without PII)',
    )
    .option(...API_KEY_OPTION)
    .action(
      async (key: string, options: { out?: string; showPersonal?: boolean; apiKey?: string }) => {
        const [
          { PersonalDataService },
          { SegmentService },
          { Permission },
          { TaxonomyVisibility },
        ] = await Promise.all([
          import('../modules/access/personal-data.service.js'),
          import('../modules/segment/segment.service.js'),
          import('../modules/auth/api-key.entity.js'),
          import('../modules/taxonomy/visibility.js'),
        ]);
        await withDatabase(async ({ orm, audit }) => {
          const em = orm.em.fork();
          const viewer = await readerFor(orm, options.apiKey);
          if (viewer && options.showPersonal && !viewer.permissions.includes(Permission.PII)) {
            throw new ForbiddenError('--show-personal: the API key has no PII permission');
          }
          const service = new SegmentService(
            em,
            viewer
              ? PersonalDataService.forViewer(em, viewer)
              : new PersonalDataService(em, options.showPersonal ?? false),
            new TaxonomyVisibility(em, viewer),
          );
          const lines = Readable.from(await service.exportMembers(key));
          await pipeline(lines, options.out ? fs.createWriteStream(options.out) : process.stdout);
          // Members leave the product with their contact data: an export worth a line.
          await audit({
            operation: 'cli:segments export',
            targetType: 'SEGMENT',
            change: { key, out: options.out ?? '-', ...(viewer ? { asKeyId: viewer.keyId } : {}) },
          });
          if (options.out) console.error(`Members of segment ${key} written to ${options.out}`);
        });
      },
    );
}
