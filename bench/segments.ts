// Segment counts and rule runs over 1,000,000 customers (issue 6):
// `node --import ./bin/register.js bench/segments.ts`.
import 'reflect-metadata';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MikroORM } from '@mikro-orm/postgresql';
import { createOrmConfig } from '../src/config/mikro-orm.config.js';
import { refreshFeatures } from '../src/jobs/feature-refresh.job.js';
import { runRules } from '../src/jobs/rules.job.js';
import { Rule, RuleMode } from '../src/modules/rule/rule.entity.js';
import { positionalSql } from '../src/modules/rule/rule.repository.js';
import { parseCondition } from '../src/modules/segment/condition/index.js';
import { SegmentRepository } from '../src/modules/segment/segment.repository.js';
import { Tag } from '../src/modules/taxonomy/tag.entity.js';
import { envInt, prepareDatabase, withClient } from './setup.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const settings = {
  dataDir: path.resolve(ROOT, process.env.BENCH_SEGMENTS_DATA_DIR ?? '.data/bench-segments'),
  pgPort: envInt('BENCH_SEGMENTS_PG_PORT', 5443, 1),
  /** Demo customers generated; the rest are SQL copies of them, with their events and tags. */
  seeded: envInt('BENCH_SEGMENTS_SEEDED', 50_000, 1_000),
  customers: envInt('BENCH_SEGMENTS_CUSTOMERS', 1_000_000, 1_000),
  repeats: envInt('BENCH_SEGMENTS_REPEATS', 5, 1),
};

const SEGMENTS = {
  '4 predicates': `region = "South China" AND spend_365d > 500 AND tag:wine-lover AND event:PURCHASE within 90d`,
  'at least 3 purchases in 90 days': `events(PURCHASE) >= 3 within 90d`,
  'at least 5 page views of any category in 30 days, not dormant': `events(PAGE_VIEW) >= 5 within 30d AND NOT tag:dormant`,
};

/** Copies of the seeded customers (external id "<original>~<n>") with features, events and tags. */
async function replicate(url: string): Promise<void> {
  await withClient(url, async (c) => {
    const { rows } = await c.query<{ n: number }>('select count(*)::int as n from customer');
    const have = rows[0]!.n;
    if (have >= settings.customers) return;
    console.error(`replicating ${have} → ${settings.customers} customers with events and tags…`);
    const started = performance.now();
    await c.query('begin');
    await c.query(
      `create temp table replica on commit drop as
       select c.id as source_id, g as copy
       from customer c cross join generate_series(1, $1::int) g
       where c.external_id not like '%~%'
       order by g, c.id limit $2`,
      [Math.ceil(settings.customers / settings.seeded), settings.customers - have],
    );
    await c.query(
      `create temp table copied on commit drop as
       with inserted as (
         insert into customer (external_id, name, email, gender, birth_year, region, city, industry,
                               company_size, lifecycle_stage, attributes, created_at)
         select c.external_id || '~' || r.copy, c.name, c.email, c.gender, c.birth_year, c.region,
                c.city, c.industry, c.company_size, c.lifecycle_stage, c.attributes, c.created_at
         from replica r join customer c on c.id = r.source_id
         returning id, external_id
       )
       select i.id, s.id as source_id from inserted i
       join customer s on s.external_id = split_part(i.external_id, '~', 1)`,
    );
    await c.query(
      `insert into customer_features (customer_id, feature_set_version, computed_at, values)
       select k.id, f.feature_set_version, f.computed_at, f.values
       from copied k join customer_features f on f.customer_id = k.source_id`,
    );
    await c.query(
      `insert into customer_tag (customer_id, tag_id, source, applied_by, applied_at)
       select k.id, ct.tag_id, ct.source, ct.applied_by, ct.applied_at
       from copied k join customer_tag ct on ct.customer_id = k.source_id`,
    );
    await c.query(
      `insert into event (customer_id, type, occurred_at, amount, currency, category, channel)
       select k.id, e.type, e.occurred_at, e.amount, e.currency, e.category, e.channel
       from copied k join event e on e.customer_id = k.source_id`,
    );
    await c.query('delete from feature_refresh_queue');
    await c.query('commit');
    await c.query('vacuum analyze');
    console.error(`replicated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
}

function stats(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `${(median / 1000).toFixed(3)} s median, ${(sorted[0]! / 1000).toFixed(3)} s best`;
}

async function main(): Promise<void> {
  const db = await prepareDatabase({
    dataDir: settings.dataDir,
    port: settings.pgPort,
    customers: settings.seeded,
  });
  const url = db.handle.url;
  const orm = await MikroORM.init(createOrmConfig({ url, logger: () => {} }));
  try {
    const [{ n: withFeatures }] = await orm.em
      .fork()
      .execute<{ n: number }[]>('select count(*)::int as n from customer_features');
    if (!withFeatures) {
      const refreshed = await refreshFeatures(orm, { mode: 'full', runRules: false });
      console.error(`feature refresh: ${refreshed.customers} customers in ${refreshed.ms} ms`);
    }
    await replicate(url);
    const em = orm.em.fork();
    const [{ customers, events }] = await em.execute<{ customers: number; events: number }[]>(
      `select (select count(*)::int from customer) as customers,
              (select count(*)::int from event) as events`,
    );
    const lines = [`${customers} customers, ${events} events.`, ''];
    lines.push('| segment | members | count time |', '| --- | ---: | --- |');
    const repository = new SegmentRepository(em);
    const environment = await repository.loadEnvironment();
    for (const [name, text] of Object.entries(SEGMENTS)) {
      const compiled = environment.compile(parseCondition(text));
      const times: number[] = [];
      let members = 0;
      for (let i = 0; i <= settings.repeats; i++) {
        const started = performance.now();
        members = await repository.count(compiled);
        // The first run warms the cache and is not counted.
        if (i > 0) times.push(performance.now() - started);
      }
      lines.push(`| ${name}: \`${text}\` | ${members} | ${stats(times)} |`);
      console.error(lines.at(-1));
    }

    // The same event counts without the (type, occurred_at) index: dropped in a transaction that
    // is rolled back, so the database keeps it.
    await withClient(url, async (c) => {
      await c.query('begin');
      await c.query('drop index event_type_occurred_at_idx');
      for (const [name, text] of Object.entries(SEGMENTS)) {
        const compiled = environment.compile(parseCondition(text));
        const times: number[] = [];
        for (let i = 0; i <= Math.min(settings.repeats, 2); i++) {
          const started = performance.now();
          await c.query(
            positionalSql(`select count(*)::int as n from customer c where ${compiled.sql}`),
            compiled.params,
          );
          if (i > 0) times.push(performance.now() - started);
        }
        lines.push(`| ${name}, without event_type_occurred_at_idx | | ${stats(times)} |`);
        console.error(lines.at(-1));
      }
      await c.query('rollback');
    });

    // The demo's rules, at 1M customers: value tier (exclusive), dormant with retraction, trigger.
    const tags = await em.find(Tag, { key: { $in: ['high-value', 'dormant', 'event-attendee'] } });
    const tagId = (key: string) => tags.find((t) => t.key === key)!.id;
    // Start from no rule-made tags or history and vacuumed, checkpointed tables, so every bench
    // run's "first run" does the same work (history otherwise grows by half a million rows a run).
    await em.nativeDelete(Rule, {});
    await withClient(url, async (c) => {
      await c.query(`delete from customer_tag where source in ('RULE', 'TRIGGER')`);
      await c.query(`delete from tag_history where source in ('RULE', 'TRIGGER')`);
      await c.query('vacuum analyze customer_tag, tag_history, rule_conflict');
      await c.query('checkpoint');
    });
    const rules: [string, string, string, RuleMode, number][] = [
      ['High value', 'spend_365d > 2000', 'high-value', RuleMode.APPLY_ONLY, 100],
      ['Dormant', 'NOT event:ANY within 30d', 'dormant', RuleMode.APPLY_AND_RETRACT, 50],
      [
        'Active',
        'event:EVENT_ATTENDANCE within 90d',
        'event-attendee',
        RuleMode.APPLY_AND_RETRACT,
        0,
      ],
    ];
    for (const [name, text, tag, mode, priority] of rules) {
      const rule = new Rule(name, parseCondition(text), tagId(tag));
      Object.assign(rule, { mode, priority });
      em.persist(rule);
    }
    await em.flush();
    lines.push('', '| rule run | wall | per rule (matched, +added −removed, conflicts, ms) |');
    lines.push('| --- | ---: | --- |');
    for (const label of ['first run', 'second run (nothing to change)', 'dry run']) {
      const started = performance.now();
      const run = await runRules(orm, { origin: 'bench', dryRun: label === 'dry run' });
      const ms = performance.now() - started;
      const per = run.reports
        .map(
          (r) =>
            `${r.ruleName}: ${r.matched}, +${r.added} −${r.removed}, ${r.conflicts}, ${r.ms} ms`,
        )
        .join('; ');
      lines.push(`| ${label} | ${(ms / 1000).toFixed(1)} s | ${per} |`);
      console.error(lines.at(-1));
    }
    console.log(lines.join('\n'));
  } finally {
    await orm.close();
    await db.handle.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
