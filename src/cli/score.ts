import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { csvField } from '../modules/common/csv.js';
import { withDatabase } from './context.js';
import { createProgress } from './progress.js';

export function registerScoreCommand(program: Command): void {
  program
    .command('score')
    .description(
      "write every customer's probability of each tag as CSV (customer_id, external_id, one column per tag), for analysis outside the product",
    )
    .requiredOption('--out <file>', 'the CSV file to write, or - for standard output')
    .option('--model <version>', 'version id or string (default: the ACTIVE version)')
    .option('--tags <keys>', 'comma-separated tag keys (default: every tag the model learnt)')
    .action(async (options: { out: string; model?: string; tags?: string }) => {
      // Before the database starts, and naming the directory given rather than the partial file.
      if (options.out !== '-') {
        await fs.promises.access(path.dirname(options.out), fs.constants.W_OK);
      }
      const { scoreAllCustomers } = await import('../jobs/score-all.job.js');
      await withDatabase(async ({ orm, audit }) => {
        const progress = createProgress();
        const pages = scoreAllCustomers(orm, {
          model: options.model ?? null,
          tags: options.tags
            ?.split(',')
            .map((t) => t.trim())
            .filter(Boolean),
          onProgress: (done, total) => progress.update('scoring', done, total),
        });
        let customers = 0;
        const lines = Readable.from(
          (async function* () {
            let header = false;
            for await (const page of pages) {
              const t = page.tags.length;
              if (!header) {
                yield `customer_id,external_id,${page.tags.map(csvField).join(',')}\n`;
                header = true;
              }
              let text = '';
              page.customerIds.forEach((id, i) => {
                const values = Array.from(page.probabilities.subarray(i * t, (i + 1) * t), (p) =>
                  p.toFixed(6),
                );
                text += `${id},${csvField(page.externalIds[i])},${values.join(',')}\n`;
              });
              customers += page.customerIds.length;
              yield text;
            }
          })(),
        );
        // Scores leave the product with every customer's external id: an export worth a line.
        const recordExport = () =>
          audit({
            operation: 'cli:score',
            targetType: 'CUSTOMER',
            change: { customers, model: options.model ?? null, out: options.out },
          });
        if (options.out === '-') {
          await pipeline(lines, process.stdout);
          progress.stop();
          await recordExport();
          return;
        }
        // Written beside the target and renamed at the end: a failed run leaves no half a file.
        const partial = path.join(
          path.dirname(options.out),
          `.${path.basename(options.out)}.${process.pid}.partial`,
        );
        try {
          await pipeline(lines, fs.createWriteStream(partial));
          await fs.promises.rename(partial, options.out);
        } catch (error) {
          await fs.promises.rm(partial, { force: true });
          throw error;
        } finally {
          progress.stop();
        }
        await recordExport();
        console.error(`Probabilities of ${customers} customers written to ${options.out}`);
      });
    });
}
