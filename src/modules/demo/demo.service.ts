import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { copyRows } from '../common/copy.js';
import { DEFAULT_DEMO_SEED } from './demo.defaults.js';
import { FeatureService } from '../feature/feature.service.js';
import { Rule, RuleMode } from '../rule/rule.entity.js';
import { parseCondition } from '../segment/condition/index.js';
import { Tag, TagStatus } from '../taxonomy/tag.entity.js';
import { snapshotSql } from '../tagging/tagging.repository.js';
import {
  DEMO_TAXONOMY,
  demoEvents,
  demoHandTags,
  demoPersona,
  type DemoPersona,
} from './demo.generator.js';

const DAY_MS = 86_400_000;

export interface SeedOptions {
  customers: number;
  seed?: number;
  /** Index of the first demo customer: lets `seed` grow an existing demo. */
  offset?: number;
  onProgress?: (phase: string, done: number, total: number) => void;
}

export interface SeedReport {
  categories: number;
  tags: number;
  customers: number;
  appliedTags: number;
  events: number;
  /**
   * Hand-applied tags not applied because their tag is deprecated or merged away, by tag key: a
   * retired tag is never applied again, and a merge already moved its holders to the target.
   */
  skippedRetiredTags: Record<string, number>;
}

/**
 * Taxonomy, customers with about 20 events each, and hand-applied tags, all set-based: COPY into temporary tables, then one
 * merge each. Idempotent: rows that exist (by key / externalId) are left as they are. A tag
 * deprecated or merged away is never applied (skippedRetiredTags counts what was left out).
 */
export async function seedDemo(orm: MikroORM, options: SeedOptions): Promise<SeedReport> {
  const seed = options.seed ?? DEFAULT_DEMO_SEED;
  const offset = options.offset ?? 0;
  const total = options.customers;
  const progress = options.onProgress ?? (() => {});
  const client = new pg.Client({ connectionString: orm.config.get('clientUrl') });
  await client.connect();
  try {
    await client.query('begin');
    const taxonomy = await insertTaxonomy(client);
    // A trait someone already unmarked stays as they left it.
    await client.query(
      `insert into trait (key, personal, updated_by)
       select k, true, 'demo' from unnest($1::text[]) k on conflict (key) do nothing`,
      [DEMO_PERSONAL_TRAITS],
    );

    // Only the columns COPY fills: a copied id default would burn customer ids.
    await client.query(
      `create temp table demo_customer on commit drop as
       select ${CUSTOMER_COLUMNS.join(', ')} from customer limit 0`,
    );
    await client.query(
      `create temp table demo_tag (external_id text, tag_key text) on commit drop`,
    );
    const now = Date.now();
    await copyRows(
      client,
      'demo_customer',
      CUSTOMER_COLUMNS,
      (function* () {
        for (let i = offset; i < offset + total; i++) {
          yield customerRow(demoPersona(seed, i), now);
          if ((i - offset + 1) % 10_000 === 0) progress('customers', i - offset + 1, total);
        }
      })(),
    );
    progress('customers', total, total);
    await copyRows(
      client,
      'demo_tag',
      ['external_id', 'tag_key'],
      (function* () {
        for (let i = offset; i < offset + total; i++) {
          const persona = demoPersona(seed, i);
          for (const key of demoHandTags(seed, persona)) yield [persona.externalId, key];
        }
      })(),
    );
    // Hand tags go to the customers created now, as events do: re-running a demo must not undo
    // what people did since (a tag removed, a merge that moved a tag's holders elsewhere).
    await client.query(
      `delete from demo_tag d using customer c where c.external_id = d.external_id`,
    );
    const inserted = await client.query<{ id: string; external_id: string }>(
      `insert into customer (${CUSTOMER_COLUMNS.join(', ')})
       select ${CUSTOMER_COLUMNS.join(', ')} from demo_customer
       on conflict (external_id) do nothing
       returning id, external_id`,
    );
    // Only customers created now get events, so growing or re-running a demo adds no duplicates.
    const newIds = new Map(inserted.rows.map((r) => [r.external_id, r.id]));
    progress('tags', 0, 1);
    const retired = await client.query<{ key: string; n: number }>(
      `select t.key, count(*)::int as n
       from demo_tag d join customer c on c.external_id = d.external_id join tag t on t.key = d.tag_key
       where t.status <> 'ACTIVE'
       group by t.key order by t.key`,
    );
    const applied = await client.query(
      `with inserted as (
         insert into customer_tag (customer_id, tag_id, source, applied_by, applied_at, note)
         select c.id, t.id, 'MANUAL', 'demo', c.created_at + interval '1 day', 'demo data'
         from demo_tag d join customer c on c.external_id = d.external_id join tag t on t.key = d.tag_key
         where t.status = 'ACTIVE'
         on conflict do nothing
         returning *
       )
       insert into tag_history (customer_id, tag_id, action, source, after, actor, note, occurred_at)
       select customer_id, tag_id, 'APPLIED', source, ${snapshotSql('inserted')}, applied_by, note, applied_at
       from inserted`,
    );
    progress('tags', 1, 1);
    let eventsDone = 0;
    const events = await copyRows(
      client,
      'event',
      ['customer_id', 'type', 'occurred_at', 'amount', 'currency', 'category', 'channel'],
      (function* () {
        for (let i = offset; i < offset + total; i++) {
          const persona = demoPersona(seed, i);
          const customerId = newIds.get(persona.externalId);
          if (customerId) {
            for (const e of demoEvents(seed, persona, now)) {
              yield [
                customerId,
                e.type,
                e.occurredAt,
                e.amount,
                e.amount === null ? null : 'CNY',
                e.category,
                e.channel,
              ];
            }
          }
          if (++eventsDone % 10_000 === 0) progress('events', eventsDone, total);
        }
      })(),
    );
    progress('events', total, total);
    await client.query('commit');
    await client.query('analyze customer; analyze customer_tag; analyze event');
    return {
      ...taxonomy,
      customers: newIds.size,
      appliedTags: applied.rowCount ?? 0,
      events,
      skippedRetiredTags: Object.fromEntries(retired.rows.map((r) => [r.key, r.n])),
    };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/** Demo traits that are personal data: masked for keys without PII. */
export const DEMO_PERSONAL_TRAITS = ['income', 'marital_status'];

const CUSTOMER_COLUMNS = [
  'external_id',
  'name',
  'email',
  'phone',
  'gender',
  'birth_year',
  'region',
  'city',
  'industry',
  'company_size',
  'lifecycle_stage',
  'first_seen_at',
  'attributes',
  'created_at',
  'updated_at',
];

const LIFECYCLE_STAGE = {
  new: 'interested',
  active: 'customer',
  dormant: 'dormant',
  churned: 'churned',
};

function customerRow(p: DemoPersona, now: number) {
  const joined = new Date(now - p.tenureDays * DAY_MS);
  return [
    p.externalId,
    p.name,
    p.email,
    p.phone,
    p.gender,
    p.birthYear,
    p.region,
    p.city,
    p.industry,
    p.companySize,
    LIFECYCLE_STAGE[p.lifecycle],
    joined,
    {
      income: p.income,
      kids: p.kids,
      teens: p.teens,
      education: p.education,
      marital_status: p.maritalStatus,
      enrolled_at: joined.toISOString().slice(0, 10),
    },
    joined,
    joined,
  ];
}

async function insertTaxonomy(
  client: pg.ClientBase,
): Promise<{ categories: number; tags: number }> {
  // Parents come before children in DEMO_TAXONOMY, so one ordered insert resolves them.
  const categories = await client.query(
    `insert into tag_category (key, name, kind, description, exclusive, suggestable, parent_id)
     select c->>'key', c->>'name', c->>'kind', c->>'description',
            coalesce((c->>'exclusive')::boolean, false), coalesce((c->>'suggestable')::boolean, false),
            (select id from tag_category p where p.key = c->>'parent')
     from jsonb_array_elements($1::jsonb) with ordinality as e(c, n)
     order by n
     on conflict (key) do nothing`,
    [JSON.stringify(DEMO_TAXONOMY.filter((c) => !c.parent))],
  );
  const children = await client.query(
    `insert into tag_category (key, name, kind, description, exclusive, suggestable, parent_id)
     select c->>'key', c->>'name', c->>'kind', c->>'description',
            coalesce((c->>'exclusive')::boolean, false), coalesce((c->>'suggestable')::boolean, false),
            (select id from tag_category p where p.key = c->>'parent')
     from jsonb_array_elements($1::jsonb) as e(c)
     on conflict (key) do nothing`,
    [JSON.stringify(DEMO_TAXONOMY.filter((c) => c.parent))],
  );
  const tags = await client.query(
    `insert into tag (key, name, color, description, category_id)
     select t->>'key', t->>'name', t->>'color', t->>'description', c.id
     from jsonb_array_elements($1::jsonb) as e(t) join tag_category c on c.key = t->>'category'
     on conflict (key) do nothing`,
    [JSON.stringify(DEMO_TAXONOMY.flatMap((c) => c.tags.map((t) => ({ ...t, category: c.key }))))],
  );
  return {
    categories: (categories.rowCount ?? 0) + (children.rowCount ?? 0),
    tags: tags.rowCount ?? 0,
  };
}

/**
 * The demo's feature set: the behaviour features, the profile, and the traits its customers carry.
 * Income says much about a value tier before the purchases do (a new customer has few).
 */
export const DEMO_FEATURE_SET = {
  numericAttributes: ['income', 'kids', 'teens'],
  categoricalAttributes: ['education', 'marital_status'],
};

/** Makes the feature set the demo's, unless it already is (a new version means a full refresh). */
export async function configureDemoFeatures(orm: MikroORM): Promise<void> {
  const service = new FeatureService(orm.em.fork());
  const { set } = await service.describe();
  const wanted = Object.entries(DEMO_FEATURE_SET);
  if (
    wanted.every(
      ([key, value]) => JSON.stringify(set[key as keyof typeof set]) === JSON.stringify(value),
    )
  ) {
    return;
  }
  const { version: _version, ...current } = set;
  await service.configure({ ...current, ...DEMO_FEATURE_SET });
}

/** The seed articles' examples as rules, adapted to the demo taxonomy. */
const DEMO_RULES = [
  {
    name: 'High value',
    description: 'Spend in the last 365 days above the threshold (the top decile when seeded)',
    text: (threshold: number) => `spend_365d > ${threshold}`,
    tag: 'high-value',
    mode: RuleMode.APPLY_ONLY,
    priority: 100,
    trigger: false,
  },
  {
    name: 'Dormant',
    description: 'No interaction for 30 days (沉睡客户); removed again when the customer is back',
    text: () => 'NOT event:ANY within 30d',
    tag: 'dormant',
    mode: RuleMode.APPLY_AND_RETRACT,
    priority: 50,
    trigger: false,
  },
  {
    name: 'Member',
    description: 'Registered for an event: an interested member; applied as registrations arrive',
    text: () => 'event:EVENT_REGISTRATION within 365d',
    tag: 'interested',
    mode: RuleMode.APPLY_ONLY,
    priority: 10,
    trigger: true,
  },
  {
    name: 'Active',
    description: 'Attended an event in the last 90 days; applied as attendance arrives',
    text: () => 'event:EVENT_ATTENDANCE within 90d',
    tag: 'event-attendee',
    mode: RuleMode.APPLY_AND_RETRACT,
    priority: 0,
    trigger: true,
  },
];

/**
 * Saves the demo rules that are missing (by name). The high-value threshold is the 90th
 * percentile of spend_365d, rounded to hundreds, so the rule tags a tenth of any demo size.
 */
export async function seedDemoRules(orm: MikroORM): Promise<number> {
  const em = orm.em.fork();
  const [{ threshold } = { threshold: null }] = await em.execute<{ threshold: number | null }[]>(
    `select round(percentile_cont(0.9) within group (order by (values->>'spend_365d')::numeric)
              / 100)::int * 100 as threshold
     from customer_features`,
  );
  // A rule would apply its tag: none for a tag someone deprecated or merged away.
  const tags = await em.find(Tag, {
    key: { $in: DEMO_RULES.map((r) => r.tag) },
    status: TagStatus.ACTIVE,
  });
  const existing = new Set((await em.find(Rule, {})).map((r) => r.name));
  let created = 0;
  for (const spec of DEMO_RULES) {
    const tag = tags.find((t) => t.key === spec.tag);
    if (!tag || existing.has(spec.name)) continue;
    const rule = new Rule(
      spec.name,
      parseCondition(spec.text(Math.max(threshold ?? 0, 100))),
      tag.id,
    );
    Object.assign(rule, {
      description: spec.description,
      mode: spec.mode,
      priority: spec.priority,
      trigger: spec.trigger,
      createdBy: 'demo',
    });
    em.persist(rule);
    created++;
  }
  await em.flush();
  return created;
}
