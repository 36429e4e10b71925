import type { Command } from 'commander';
import { MAX_PAGE_SIZE } from '../modules/common/pagination.js';
import type { TraitRecord } from '../modules/trait/trait.repository.js';
import type { TraitService } from '../modules/trait/trait.service.js';
import { withDatabase } from './context.js';

async function allTraits(service: TraitService): Promise<TraitRecord[]> {
  const traits: TraitRecord[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await service.listTraits({}, { first: MAX_PAGE_SIZE, after });
    traits.push(...page.nodes);
    if (!page.hasNextPage) return traits;
    after = page.cursors.at(-1)!;
  }
}

function formatTraits(traits: readonly TraitRecord[]): string {
  const rows = traits.map((t) => [
    t.key,
    t.personal ? 'personal' : '–',
    String(t.customers),
    t.updatedBy ?? '–',
  ]);
  const header = ['key', 'personal', 'customers', 'changed by'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

export function registerTraitsCommand(program: Command): void {
  const traits = program
    .command('traits')
    .description('the taxonomy of traits: attribute keys and which are personal');
  traits
    .command('list')
    .description('every attribute key customers hold or that was described, with its flag')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const { TraitService } = await import('../modules/trait/trait.service.js');
      await withDatabase(async ({ orm }) => {
        const list = await allTraits(new TraitService(orm.em.fork()));
        console.log(options.json ? JSON.stringify(list, null, 2) : formatTraits(list));
      });
    });
  traits
    .command('personal <key>')
    .description(
      'mark an attribute key personal: masked for API keys without PII, and refused in their conditions',
    )
    .option('--off', 'mark it not personal')
    .action(async (key: string, options: { off?: boolean }) => {
      const { TraitService } = await import('../modules/trait/trait.service.js');
      await withDatabase(async ({ orm }) => {
        const trait = await new TraitService(orm.em.fork()).setPersonal(key, !options.off, 'cli');
        console.log(`Trait ${trait.key} is ${trait.personal ? '' : 'not '}personal.`);
      });
    });
}
