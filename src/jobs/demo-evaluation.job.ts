import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createRng } from '../ml/random.js';
import { demoPersona, demoTrueTags, type DemoPersona } from '../modules/demo/demo.generator.js';
import { evaluateAgainstPersonas, type TruthReport } from '../modules/demo/demo.evaluation.js';
import { configureDemoFeatures, seedDemo } from '../modules/demo/demo.service.js';
import { prepareImport, runImport } from '../modules/import/import.service.js';
import { refreshFeatures } from './feature-refresh.job.js';
import { generateSuggestions, type SuggestReport } from './suggest.job.js';
import { trainModels, type TrainReport } from './train.job.js';

/**
 * Which labels the model gets. `hand`: the demo's hand tags (a third of the customers, most of
 * their interests and their value tier, a few mistakes). `complete`: the true tags of a random
 * share of the customers, imported with `--complete`, so the other tags of their categories are
 * known negatives; nobody else has any tag.
 */
export type DemoLabelling = { kind: 'hand' } | { kind: 'complete'; share: number };

export interface DemoScenarioOptions {
  customers: number;
  labelling: DemoLabelling;
  /** The demo's seed (personas, events, hand tags). */
  seed?: number;
  /** Training's seed. */
  trainSeed?: number;
  modelsDir: string;
  targetPrecision?: number;
  onProgress?: (step: string) => void;
}

/** What training promised for a tag, and what its suggestions delivered on the customers evaluated. */
export interface TagPromise {
  tag: string;
  mode: string;
  confident: boolean;
  /** The precision training reported: counted (KNOWN) or estimated (PU). */
  promised: number | null;
  realized: number | null;
  suggested: number;
}

export interface DemoScenarioReport {
  train: TrainReport;
  suggest: SuggestReport;
  /** Against the personas, on customers without labels (whose tags only suggestions give). */
  truth: TruthReport;
  promises: TagPromise[];
}

const DEMO_SEED = 42;

/**
 * The demo end to end through the product's own paths — seed, (complete import), features, train,
 * suggest — and then measured against what the generator knows: every customer's true tags. The
 * one place where a suggestion's realized precision is known, so `npm run eval` and the tests
 * that hold training to its promises run it. Expects an empty database.
 */
export async function runDemoScenario(
  orm: MikroORM,
  options: DemoScenarioOptions,
): Promise<DemoScenarioReport> {
  const seed = options.seed ?? DEMO_SEED;
  const progress = options.onProgress ?? (() => {});
  progress('seeding');
  await seedDemo(orm, { customers: options.customers, seed });
  const em = orm.em.fork();
  let labelled: (persona: DemoPersona) => boolean;
  if (options.labelling.kind === 'complete') {
    const { share } = options.labelling;
    // The hand tags go; the sample's true tags come in through the product's import.
    await em.execute('delete from tag_history; delete from customer_tag');
    const rng = createRng(seed + 1);
    const sample = new Set<number>();
    for (let i = 0; i < options.customers; i++) if (rng() < share) sample.add(i);
    labelled = (p) => sample.has(p.index);
    await importComplete(orm, seed, sample);
  } else {
    labelled = (p) => p.handTagged;
  }
  progress('features');
  await configureDemoFeatures(orm);
  await refreshFeatures(orm, { mode: 'full', runRules: false });
  progress('training');
  const train = await trainModels(orm, {
    seed: options.trainSeed ?? 42,
    promote: true,
    modelsDir: options.modelsDir,
    createdBy: 'evaluation',
    ...(options.targetPrecision !== undefined ? { targetPrecision: options.targetPrecision } : {}),
  });
  progress('suggesting');
  const suggest = await generateSuggestions(orm);
  progress('evaluating');
  const truth = await evaluateAgainstPersonas(em, { seed, include: (p) => !labelled(p) });
  const promises = train.metrics.map((m): TagPromise => {
    const realized = truth.tags.find((t) => t.tag === m.tag);
    return {
      tag: m.tag,
      mode: m.mode,
      confident: m.confident,
      promised: m.precision ?? m.estimatedPrecision,
      realized: realized?.precision ?? null,
      suggested: realized?.suggested ?? 0,
    };
  });
  return { train, suggest, truth, promises };
}

/** The sample's true tags as a CSV file, imported complete. */
async function importComplete(orm: MikroORM, seed: number, sample: Set<number>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-eval-'));
  const file = path.join(dir, 'tags.csv');
  try {
    const lines = ['customerExternalId,tag'];
    for (const index of [...sample].sort((a, b) => a - b)) {
      const persona = demoPersona(seed, index);
      for (const tag of demoTrueTags(persona)) lines.push(`${persona.externalId},${tag}`);
    }
    await fs.writeFile(file, `${lines.join('\n')}\n`);
    const report = await runImport(
      orm,
      await prepareImport({ kind: 'tags', file, complete: true }),
    );
    if (report.rejected > 0) throw new Error(`${report.rejected} tag rows rejected`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
