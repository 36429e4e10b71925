import type { EntityManager } from '@mikro-orm/postgresql';
import { demoPersona, demoTrueTags, type DemoPersona } from './demo.generator.js';

/** Suggestions for one tag against the personas' true tags, on the customers evaluated. */
export interface TruthMetrics {
  tag: string;
  /** Customers evaluated who truly hold the tag. */
  holders: number;
  suggested: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  /** Null when nothing was suggested. */
  precision: number | null;
  recall: number;
  f1: number;
}

export interface TruthReport {
  /** Demo customers evaluated (those the filter kept). */
  customers: number;
  tags: TruthMetrics[];
  /** Unweighted mean of the tags' F1; a tag never suggested counts 0. */
  macroF1: number;
}

/**
 * Compares the pending suggestions (and auto-applied ones) of demo customers with the tags their
 * personas truly have, for every tag of the demo's suggestable categories. Only customers the
 * filter keeps count — e.g. the ones nobody tagged by hand, whose tags only suggestions can give.
 * The demo knows everyone's persona, so this is the one place realized precision is known.
 */
export async function evaluateAgainstPersonas(
  em: EntityManager,
  options: { seed: number; include: (persona: DemoPersona) => boolean },
): Promise<TruthReport> {
  const [customers, suggestions, tags] = await Promise.all([
    em.execute<{ externalId: string }[]>(
      `select external_id as "externalId" from customer where external_id like 'demo-%'`,
    ),
    em.execute<{ externalId: string; tag: string }[]>(
      `select c.external_id as "externalId", t.key as tag
       from tag_suggestion s join customer c on c.id = s.customer_id join tag t on t.id = s.tag_id
       where s.status in ('PENDING', 'AUTO_APPLIED') and c.external_id like 'demo-%'`,
    ),
    em.execute<{ key: string }[]>(
      `select t.key from tag t join tag_category c on c.id = t.category_id
       where c.suggestable and t.status = 'ACTIVE' order by t.key`,
    ),
  ]);
  const suggested = new Map<string, Set<string>>();
  for (const s of suggestions) {
    if (!suggested.has(s.externalId)) suggested.set(s.externalId, new Set());
    suggested.get(s.externalId)!.add(s.tag);
  }
  const counts = new Map(tags.map((t) => [t.key, { holders: 0, tp: 0, fp: 0, fn: 0 }]));
  let evaluated = 0;
  for (const { externalId } of customers) {
    const persona = demoPersona(options.seed, Number(externalId.slice('demo-'.length)) - 1);
    if (persona.externalId !== externalId || !options.include(persona)) continue;
    evaluated++;
    const truth = new Set(demoTrueTags(persona));
    const got = suggested.get(externalId) ?? new Set<string>();
    for (const [tag, c] of counts) {
      const holds = truth.has(tag);
      if (holds) c.holders++;
      if (holds && got.has(tag)) c.tp++;
      else if (got.has(tag)) c.fp++;
      else if (holds) c.fn++;
    }
  }
  const rows = [...counts].map(([tag, c]): TruthMetrics => {
    const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : null;
    const recall = c.holders > 0 ? c.tp / c.holders : 0;
    const f1 = precision && recall ? (2 * precision * recall) / (precision + recall) : 0;
    return {
      tag,
      holders: c.holders,
      suggested: c.tp + c.fp,
      truePositives: c.tp,
      falsePositives: c.fp,
      falseNegatives: c.fn,
      precision,
      recall,
      f1,
    };
  });
  return {
    customers: evaluated,
    tags: rows,
    macroF1: rows.length ? rows.reduce((sum, r) => sum + r.f1, 0) / rows.length : 0,
  };
}
