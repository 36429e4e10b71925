import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, randomInt, type Rng } from '../../src/ml/random.js';
import { parseTimestamp } from '../../src/modules/common/sql.js';
import {
  compileCondition,
  evaluateCondition,
  parseCondition,
  printCondition,
  PROFILE_FIELDS,
  type ComparisonOp,
  type Condition,
  type CustomerSnapshot,
  type ProfileFieldName,
  type Scalar,
} from '../../src/modules/segment/condition/index.js';
import { createTestApp, type TestApp } from '../support/app.js';

const NOW = new Date('2026-06-30T12:00:00.000Z');
const DAY = 86_400_000;
const VERSION = 2;
const INJECTIONS = [
  `'); drop table customer; --`,
  `" or 1=1 --`,
  `\\' or '1'='1`,
  `?`,
  `??`,
  `$1`,
  `a\\"b`,
  `{"a","b"}`,
  `x' || (select pg_sleep(1)) || '`,
];
const TEXTS = [
  'South China',
  'East China',
  '华南',
  "O'Brien",
  'a\\b "q"',
  'ｚebra',
  '😀 smile',
  '?',
];
const TAGS = {
  'value-tier': ['high-value', 'normal-value', 'low-value'],
  food: ['wine-lover', 'meat-lover'],
  interest: ['reader', `it's "quoted" \\ ?`],
  behaviour: ['frequent-buyer', 'event-attendee'],
};
const EVENT_TYPES = ['PURCHASE', 'PAGE_VIEW', 'EMAIL_OPEN', 'SUPPORT_TICKET'];
const EVENT_CATEGORIES = ['wine', 'meat', 'we"ird?', null];
const FEATURES = ['spend_365d', 'purchases_30d', 'days_since_last_interaction', 'region'];
const ATTRIBUTE_KEYS = ['income', 'vip', 'plan', 'since', 'score', 'note', `we"ird?key`];

const pick = <T>(rng: Rng, items: readonly T[]): T => items[randomInt(rng, items.length)]!;
const chance = (rng: Rng, p: number) => rng() < p;
const maybe = <T>(rng: Rng, p: number, value: () => T): T | null =>
  chance(rng, p) ? value() : null;
const isoAt = (ms: number) => new Date(ms).toISOString();

interface Fixture {
  snapshots: Map<string, CustomerSnapshot>;
  clusterIds: { active: string[]; retired: string[] };
}

/** ~300 customers with every kind of data a condition reads, inserted with set-based SQL. */
async function createFixture(t: TestApp, rng: Rng): Promise<Fixture> {
  const categories = await t.sql<{ id: string; key: string }>(
    `insert into tag_category (key, name, kind) select k, k, 'OTHER' from unnest(?::text[]) k
     returning id, key`,
    ['{value-tier,interest,food,behaviour}'],
  );
  const categoryId = Object.fromEntries(categories.map((c) => [c.key, c.id]));
  await t.sql(`update tag_category set parent_id = ? where key = 'food'`, [categoryId.interest]);
  const tags: { id: string; key: string }[] = [];
  for (const [category, keys] of Object.entries(TAGS)) {
    tags.push(
      ...(await t.sql<{ id: string; key: string }>(
        `insert into tag (key, name, category_id)
         select k, k, ? from jsonb_array_elements_text(?::jsonb) k returning id, key`,
        [categoryId[category], JSON.stringify(keys)],
      )),
    );
  }

  const customers = Array.from({ length: 300 }, (_, i) => ({
    external_id: `c${i}`,
    name: chance(rng, 0.5) ? pick(rng, TEXTS) : `customer ${i}`,
    email: maybe(rng, 0.7, () => `${pick(rng, ['li', 'wang', 'zhang'])}${i}@example.com`),
    phone: maybe(rng, 0.3, () => `+86 ${i}`),
    gender: maybe(rng, 0.8, () => pick(rng, ['F', 'M'])),
    birth_year: maybe(rng, 0.8, () => 1950 + randomInt(rng, 56)),
    region: maybe(rng, 0.8, () => pick(rng, TEXTS)),
    city: maybe(rng, 0.5, () => pick(rng, ['Shenzhen', 'Shanghai', 'Guangzhou'])),
    industry: maybe(rng, 0.7, () => pick(rng, ['manufacturing', 'retail', 'finance'])),
    company_size: maybe(rng, 0.7, () => randomInt(rng, 2000)),
    lifecycle_stage: maybe(rng, 0.6, () => pick(rng, ['lead', 'customer', 'churned'])),
    created_at: isoAt(NOW.getTime() - randomInt(rng, 700 * DAY)),
    updated_at: isoAt(NOW.getTime() - randomInt(rng, 30 * DAY)),
    attributes: randomAttributes(rng),
  }));
  const customerIds = (
    await t.sql<{ id: string }>(
      `insert into customer (external_id, name, email, phone, gender, birth_year, region, city,
         industry, company_size, lifecycle_stage, created_at, updated_at, attributes)
       select external_id, name, email, phone, gender, birth_year, region, city, industry,
         company_size, lifecycle_stage, created_at, updated_at, attributes
       from jsonb_to_recordset(?::jsonb) as r(external_id text, name text, email text, phone text,
         gender text, birth_year int, region text, city text, industry text, company_size int,
         lifecycle_stage text, created_at timestamptz, updated_at timestamptz, attributes jsonb)
       returning id`,
      [JSON.stringify(customers)],
    )
  ).map((r) => r.id);

  const holdings = customerIds.flatMap((customerId) =>
    tags
      .filter(() => chance(rng, 0.25))
      .map((tag) => ({ customer_id: customerId, tag_id: tag.id })),
  );
  await t.sql(
    `insert into customer_tag (customer_id, tag_id, source)
     select customer_id, tag_id, 'MANUAL' from jsonb_to_recordset(?::jsonb) as r(customer_id bigint, tag_id bigint)`,
    [JSON.stringify(holdings)],
  );

  const features = customerIds
    .filter(() => chance(rng, 0.85))
    .map((customerId) => ({
      customer_id: customerId,
      // Rows of an older feature set must not match.
      version: chance(rng, 0.1) ? VERSION - 1 : VERSION,
      values: {
        spend_365d: chance(rng, 0.9) ? Math.round(rng() * 200_000) / 100 : null,
        purchases_30d: randomInt(rng, 6),
        days_since_last_interaction: chance(rng, 0.8) ? randomInt(rng, 400) : null,
        region: pick(rng, TEXTS),
      },
    }));
  await t.sql(
    `insert into customer_features (customer_id, feature_set_version, computed_at, values)
     select customer_id, version, now(), values
     from jsonb_to_recordset(?::jsonb) as r(customer_id bigint, version int, values jsonb)`,
    [JSON.stringify(features)],
  );

  // Window edges: exactly D days ago (inside), a millisecond before (outside), and the future.
  const edges = [30 * DAY, 30 * DAY + 1, 7 * DAY, -DAY];
  const events = customerIds.flatMap((customerId) =>
    Array.from({ length: randomInt(rng, 12) }, () => ({
      customer_id: customerId,
      type: pick(rng, EVENT_TYPES),
      category: pick(rng, EVENT_CATEGORIES),
      occurred_at: isoAt(
        NOW.getTime() - (chance(rng, 0.1) ? pick(rng, edges) : randomInt(rng, 400 * DAY)),
      ),
    })),
  );
  await t.sql(
    `insert into event (customer_id, type, category, occurred_at)
     select customer_id, type, category, occurred_at from jsonb_to_recordset(?::jsonb)
       as r(customer_id bigint, type text, category text, occurred_at timestamptz)`,
    [JSON.stringify(events)],
  );

  const clusterIds = { active: [] as string[], retired: [] as string[] };
  for (const status of ['ACTIVE', 'RETIRED'] as const) {
    const [version] = await t.sql<{ id: string }>(
      `insert into model_version (version, status, seed, params, feature_schema, training_summary,
         metrics, backend, artifact_path)
       values (?, ?, 1, '{}', '{}', '{}', '{}', 'test', 'none') returning id`,
      [`v-${status}`, status],
    );
    const clusters = await t.sql<{ id: string }>(
      `insert into cluster (model_version_id, index, label, size, profile)
       select ?, i, 'c' || i, 0, '{}' from generate_series(0, 3) i returning id`,
      [version!.id],
    );
    const ids = clusters.map((c) => c.id);
    clusterIds[status === 'ACTIVE' ? 'active' : 'retired'] = ids;
    const members = customerIds
      .filter(() => status === 'RETIRED' || chance(rng, 0.9))
      .map((customerId) => ({ customer_id: customerId, cluster_id: pick(rng, ids) }));
    await t.sql(
      `insert into customer_cluster (model_version_id, customer_id, cluster_id, distance)
       select ?, customer_id, cluster_id, 1 from jsonb_to_recordset(?::jsonb)
         as r(customer_id bigint, cluster_id bigint)`,
      [version!.id, JSON.stringify(members)],
    );
  }
  return { snapshots: await loadSnapshots(t), clusterIds };
}

function randomAttributes(rng: Rng): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  if (chance(rng, 0.7)) attributes.income = chance(rng, 0.9) ? randomInt(rng, 100_000) : 'n/a';
  if (chance(rng, 0.6)) attributes.vip = chance(rng, 0.5);
  if (chance(rng, 0.6)) attributes.plan = pick(rng, ['basic', 'pro', 'premium', ...TEXTS]);
  if (chance(rng, 0.5))
    attributes.since = isoAt(NOW.getTime() - randomInt(rng, 900 * DAY)).slice(0, 10);
  if (chance(rng, 0.5))
    attributes.score = chance(rng, 0.5) ? rng() * 10 : String(randomInt(rng, 10));
  if (chance(rng, 0.2)) attributes.note = null;
  if (chance(rng, 0.2)) attributes[`we"ird?key`] = pick(rng, TEXTS);
  return attributes;
}

/** What the database holds, read back, so the evaluator sees exactly what SQL sees. */
async function loadSnapshots(t: TestApp): Promise<Map<string, CustomerSnapshot>> {
  const columns = Object.keys(PROFILE_FIELDS) as ProfileFieldName[];
  const rows = await t.sql<Record<string, unknown>>(
    `select c.id, ${columns.map((c) => `c.${c}`).join(', ')}, c.attributes from customer c`,
  );
  const snapshots = new Map<string, CustomerSnapshot>();
  for (const row of rows) {
    const profile: CustomerSnapshot['profile'] = {};
    for (const column of columns) {
      const value = row[column] as string | number | null;
      profile[column] =
        PROFILE_FIELDS[column] === 'timestamp' && value !== null
          ? parseTimestamp(value as string)
          : value;
    }
    snapshots.set(row.id as string, {
      profile,
      attributes: row.attributes as Record<string, unknown>,
      tags: [],
      features: null,
      events: [],
      cluster: null,
    });
  }
  const at = (id: string) =>
    snapshots.get(id)! as { -readonly [K in keyof CustomerSnapshot]: CustomerSnapshot[K] };
  const tags = await t.sql<{ customer_id: string; key: string; categories: string[] }>(
    `with recursive chain(category_id, ancestor_id, depth) as (
       select id, id, 0 from tag_category
       union all select chain.category_id, tc.parent_id, chain.depth + 1
       from chain join tag_category tc on tc.id = chain.ancestor_id where tc.parent_id is not null
     )
     select ct.customer_id, t.key,
       (select array_agg(tc.key order by chain.depth) from chain join tag_category tc on tc.id = chain.ancestor_id
        where chain.category_id = t.category_id) as categories
     from customer_tag ct join tag t on t.id = ct.tag_id`,
  );
  for (const tag of tags) {
    at(tag.customer_id).tags = [
      ...at(tag.customer_id).tags,
      { key: tag.key, categories: tag.categories },
    ];
  }
  const features = await t.sql<{ customer_id: string; values: Record<string, unknown> }>(
    `select customer_id, values from customer_features where feature_set_version = ?`,
    [VERSION],
  );
  for (const f of features) at(f.customer_id).features = f.values;
  const events = await t.sql<{
    customer_id: string;
    type: string;
    category: string | null;
    occurred_at: string;
  }>(`select customer_id, type, category, occurred_at from event`);
  for (const e of events) {
    at(e.customer_id).events = [
      ...at(e.customer_id).events,
      { type: e.type, category: e.category, occurredAt: parseTimestamp(e.occurred_at) },
    ];
  }
  const clusters = await t.sql<{ customer_id: string; cluster_id: string; index: number }>(
    `select cc.customer_id, cc.cluster_id, cl.index from customer_cluster cc
     join model_version mv on mv.id = cc.model_version_id join cluster cl on cl.id = cc.cluster_id
     where mv.status = 'ACTIVE'`,
  );
  for (const c of clusters) at(c.customer_id).cluster = { id: c.cluster_id, index: c.index };
  return snapshots;
}

const SEGMENTS: Record<string, Condition> = {
  vip: {
    or: [{ tag: { has: 'high-value' } }, { attribute: { key: 'vip', op: 'EQ', value: true } }],
  },
  'big-vip': {
    and: [{ segment: 'vip' }, { field: { name: 'company_size', op: 'GTE', value: 500 } }],
  },
};
const resolveSegment = (key: string) => SEGMENTS[key];

/** Random trees over the fixture's values, plus misses and injection attempts. */
function randomCondition(rng: Rng, fixture: Fixture, depth = 0): Condition {
  if (depth < 3 && chance(rng, 0.45 - depth * 0.1)) {
    const kind = pick(rng, ['and', 'or', 'not'] as const);
    if (kind === 'not') return { not: randomCondition(rng, fixture, depth + 1) };
    const operands = Array.from({ length: 2 + randomInt(rng, 3) }, () =>
      randomCondition(rng, fixture, depth + 1),
    );
    return kind === 'and' ? { and: operands } : { or: operands };
  }
  const tagKeys = [...Object.values(TAGS).flat(), 'missing-tag', pick(rng, INJECTIONS)];
  switch (randomInt(rng, 9)) {
    case 0: {
      const keys = Array.from({ length: 1 + randomInt(rng, 3) }, () => pick(rng, tagKeys));
      return pick(rng, [
        { tag: { has: keys[0]! } },
        { tag: { anyOf: keys } },
        { tag: { allOf: keys } },
        { tag: { noneOf: keys } },
      ]);
    }
    case 1:
      return { category: pick(rng, [...Object.keys(TAGS), 'missing', pick(rng, INJECTIONS)]) };
    case 2:
    case 3:
      return randomField(rng);
    case 4:
    case 5:
      return randomAttribute(rng);
    case 6: {
      const op = pick(rng, ['EQ', 'NE', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN'] as const);
      const name = pick(rng, [...FEATURES, 'missing_feature', pick(rng, INJECTIONS)]);
      const number = () => pick(rng, [0, 1, 3, 50, 100, 365, 1000.5, 50_000]);
      if (op === 'BETWEEN') return { feature: { name, op, low: number(), high: number() } };
      return { feature: { name, op, value: number() } };
    }
    case 7: {
      const type = pick(rng, [undefined, ...EVENT_TYPES, pick(rng, INJECTIONS)]);
      const category = pick(rng, [undefined, 'wine', 'meat', 'we"ird?', pick(rng, INJECTIONS)]);
      return {
        events: {
          ...(type === undefined ? {} : { type }),
          ...(category === undefined ? {} : { category }),
          withinDays: pick(rng, [1, 7, 30, 90, 365]),
          op: pick(rng, ['EQ', 'NE', 'LT', 'LTE', 'GT', 'GTE'] as const),
          count: randomInt(rng, 5),
        },
      };
    }
    default:
      if (chance(rng, 0.2)) return { segment: pick(rng, Object.keys(SEGMENTS)) };
      return chance(rng, 0.5)
        ? { cluster: { index: randomInt(rng, 5) } }
        : {
            cluster: {
              id: pick(rng, [...fixture.clusterIds.active, ...fixture.clusterIds.retired]),
            },
          };
  }
}

function randomComparison(rng: Rng, values: () => Scalar, ops: readonly string[]) {
  const op = pick(rng, ops);
  switch (op) {
    case 'EXISTS':
      return { op } as const;
    case 'BETWEEN':
      return { op, low: values() as string | number, high: values() as string | number } as const;
    case 'IN':
    case 'NOT_IN':
      return { op, values: Array.from({ length: 1 + randomInt(rng, 3) }, values) } as const;
    case 'CONTAINS':
    case 'STARTS_WITH':
      return { op, value: String(values()).slice(0, 1 + randomInt(rng, 3)) } as const;
    default:
      return { op: op as ComparisonOp, value: values() } as const;
  }
}

const ORDERED = ['EQ', 'NE', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN'];

function randomField(rng: Rng): Condition {
  const name = pick(rng, Object.keys(PROFILE_FIELDS) as ProfileFieldName[]);
  const type = PROFILE_FIELDS[name];
  if (type === 'timestamp') {
    const date = () => {
      const iso = isoAt(NOW.getTime() - randomInt(rng, 700 * DAY));
      return chance(rng, 0.5) ? iso.slice(0, 10) : iso.replace('Z', '+08:00');
    };
    return { field: { name, ...randomComparison(rng, date, [...ORDERED, 'EXISTS']) } };
  }
  if (type === 'integer') {
    const number = () => (name === 'birth_year' ? 1950 + randomInt(rng, 60) : randomInt(rng, 2000));
    return {
      field: { name, ...randomComparison(rng, number, [...ORDERED, 'IN', 'NOT_IN', 'EXISTS']) },
    };
  }
  const text = () =>
    pick(rng, [
      ...TEXTS,
      'F',
      'M',
      'retail',
      'manufacturing',
      'lead',
      'li',
      'c1',
      'customer 1',
      pick(rng, INJECTIONS),
    ]);
  return {
    field: {
      name,
      ...randomComparison(rng, text, [
        ...ORDERED,
        'IN',
        'NOT_IN',
        'EXISTS',
        'CONTAINS',
        'STARTS_WITH',
      ]),
    },
  };
}

function randomAttribute(rng: Rng): Condition {
  const key = pick(rng, [...ATTRIBUTE_KEYS, 'missing', pick(rng, INJECTIONS)]);
  const literal = pick(rng, ['number', 'string', 'boolean', 'exists'] as const);
  if (literal === 'exists') return { attribute: { key, op: 'EXISTS' } };
  if (literal === 'boolean') {
    return { attribute: { key, op: pick(rng, ['EQ', 'NE'] as const), value: chance(rng, 0.5) } };
  }
  if (literal === 'number') {
    const number = () => pick(rng, [0, 5, 7.5, 10, 50_000, 99_999]);
    return { attribute: { key, ...randomComparison(rng, number, [...ORDERED, 'IN', 'NOT_IN']) } };
  }
  const text = () =>
    pick(rng, ['basic', 'pro', 'n/a', '5', '2025-06-01', '2026', ...TEXTS, pick(rng, INJECTIONS)]);
  return {
    attribute: {
      key,
      ...randomComparison(rng, text, [...ORDERED, 'IN', 'NOT_IN', 'CONTAINS', 'STARTS_WITH']),
    },
  };
}

describe('condition compiler against PostgreSQL', () => {
  let t: TestApp;
  let fixture: Fixture;

  const members = async (condition: Condition) => {
    const { sql, params } = compileCondition(condition, {
      featureSetVersion: VERSION,
      resolveSegment,
      now: NOW,
    });
    const rows = await t.sql<{ id: string }>(`select c.id from customer c where ${sql}`, params);
    return rows.map((r) => r.id).sort();
  };
  const expected = (condition: Condition) =>
    [...fixture.snapshots]
      .filter(([, customer]) =>
        evaluateCondition(condition, customer, { now: NOW, resolveSegment }),
      )
      .map(([id]) => id)
      .sort();

  beforeAll(async () => {
    t = await createTestApp();
    fixture = await createFixture(t, createRng(20261123));
  });
  afterAll(() => t?.close());

  it('builds a fixture where conditions have something to tell apart', () => {
    expect(fixture.snapshots.size).toBe(300);
    const customers = [...fixture.snapshots.values()];
    expect(customers.filter((c) => c.tags.length).length).toBeGreaterThan(200);
    expect(customers.filter((c) => c.features === null).length).toBeGreaterThan(30);
    expect(customers.filter((c) => c.cluster === null).length).toBeGreaterThan(10);
  });

  it('matches the TypeScript evaluator on 400 random conditions', async () => {
    const rng = createRng(7);
    let nonTrivial = 0;
    for (let i = 0; i < 400; i++) {
      const condition = randomCondition(rng, fixture);
      expect(parseCondition(printCondition(condition))).toEqual(condition);
      const want = expected(condition);
      if (want.length > 0 && want.length < fixture.snapshots.size) nonTrivial++;
      const got = await members(condition);
      if (got.join() !== want.join()) {
        throw new Error(
          `mismatch for ${printCondition(condition)}: SQL ${got.length}, TypeScript ${want.length}`,
        );
      }
    }
    // Random trees must mostly split the customers, or the comparison proves little.
    expect(nonTrivial).toBeGreaterThan(150);
  });

  it('matches hand-picked conditions from the business examples', async () => {
    const cases: [string, number][] = [
      ['region = "South China" AND industry = "manufacturing" AND company_size >= 500', 0],
      ['spend_365d > 1000', 0],
      ['NOT event:ANY within 30d', 0],
      ['tag:normal-value AND purchases_30d >= 3 AND NOT tag:low-value', 0],
      ['category:interest', 0],
      ['events(PURCHASE, category "wine") >= 2 within 365d', 0],
      ['segment:big-vip OR cluster:1', 0],
      ['attr.since >= "2025-06-01" AND attr.income between 10000 and 60000', 0],
      ['created_at < "2025-01-01" OR email starts with "li"', 0],
      ['region != "South China"', 0],
      ['NOT region = "South China"', 0],
    ];
    for (const [text] of cases) {
      const condition = parseCondition(text);
      const want = expected(condition);
      expect(want.length, text).toBeGreaterThan(0);
      expect(await members(condition), text).toEqual(want);
    }
  });

  it('treats missing values as not matching, and NOT of that as matching', async () => {
    const noRegion = [...fixture.snapshots]
      .filter(([, c]) => c.profile.region == null)
      .map(([id]) => id);
    expect(noRegion.length).toBeGreaterThan(0);
    const ne = await members(parseCondition('region != "South China"'));
    const notEq = await members(parseCondition('NOT region = "South China"'));
    expect(ne.some((id) => noRegion.includes(id))).toBe(false);
    expect(noRegion.every((id) => notEq.includes(id))).toBe(true);
  });

  it('keeps injection attempts in every string position as plain values', async () => {
    const countBefore = await t.sql<{ n: number }>('select count(*)::int as n from customer');
    for (const evil of INJECTIONS) {
      const conditions: Condition[] = [
        { tag: { has: evil } },
        { tag: { anyOf: [evil, 'high-value'] } },
        { tag: { noneOf: [evil] } },
        { category: evil },
        { field: { name: 'region', op: 'EQ', value: evil } },
        { field: { name: 'region', op: 'IN', values: [evil, 'South China'] } },
        { field: { name: 'name', op: 'CONTAINS', value: evil } },
        { field: { name: 'name', op: 'GTE', value: evil } },
        { attribute: { key: evil, op: 'EXISTS' } },
        { attribute: { key: evil, op: 'EQ', value: evil } },
        { attribute: { key: 'plan', op: 'NOT_IN', values: [evil] } },
        { attribute: { key: evil, op: 'GT', value: 1 } },
        { feature: { name: evil, op: 'GT', value: 0 } },
        { events: { type: evil, category: evil, withinDays: 30, op: 'GTE', count: 1 } },
        { events: { type: evil, withinDays: 30, op: 'GTE', count: 2 } },
        { not: { events: { category: evil, withinDays: 365, op: 'LT', count: 3 } } },
      ];
      for (const condition of conditions) {
        const { sql } = compileCondition(condition, { featureSetVersion: VERSION, now: NOW });
        expect(sql.replace(/\?::\w+(\[\])?/g, '')).not.toContain(evil);
        expect(await members(condition), JSON.stringify(condition)).toEqual(expected(condition));
      }
    }
    // A stored value that looks like an injection matches itself, and only itself.
    const quoted = await members({ tag: { has: `it's "quoted" \\ ?` } });
    expect(quoted.length).toBeGreaterThan(0);
    expect(await t.sql('select count(*)::int as n from customer')).toEqual(countBefore);
  });
});
