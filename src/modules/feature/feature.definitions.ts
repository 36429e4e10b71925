import { z } from 'zod';
import { BuiltinEventType, Channel } from '../event/event.entity.js';

/** Profile columns a feature set may use, and how. */
export const PROFILE_FEATURES = {
  age: { kind: 'numeric' },
  company_size: { kind: 'numeric' },
  gender: { kind: 'categorical' },
  region: { kind: 'categorical' },
  industry: { kind: 'categorical' },
  lifecycle_stage: { kind: 'categorical' },
} as const;
export type ProfileFeature = keyof typeof PROFILE_FEATURES;

const attributeName = z
  .string()
  .regex(/^[\p{L}\p{N}_.-]{1,100}$/u, 'attribute names are letters, digits, _ . - (at most 100)');

/**
 * What to compute beyond the behaviour features. Changing it bumps the version stored with
 * every computed row, so a model can tell which values it was trained on.
 */
export const featureSetSchema = z
  .object({
    /** Categories whose spend share is a feature; null: the top ones by spend at the next full refresh. */
    spendCategories: z.array(z.string().min(1).max(100)).max(20).nullable().default(null),
    /**
     * Categories whose engagement counts and share are features; null: the top ones by engagement
     * at the next full refresh. Separate from spendCategories: content people read or attend
     * (a whitepaper topic, a tasting) need not be a product they buy.
     */
    engagementCategories: z.array(z.string().min(1).max(100)).max(20).nullable().default(null),
    profile: z
      .array(z.enum(Object.keys(PROFILE_FEATURES) as [ProfileFeature, ...ProfileFeature[]]))
      .default(['age', 'company_size', 'gender', 'region', 'industry']),
    numericAttributes: z.array(attributeName).max(100).default([]),
    categoricalAttributes: z.array(attributeName).max(100).default([]),
    /** Date traits (ISO) become "days since". */
    dateAttributes: z.array(attributeName).max(50).default([]),
  })
  .strict();

export type FeatureSetConfig = z.infer<typeof featureSetSchema>;

export interface FeatureSet extends FeatureSetConfig {
  version: number;
}

export const TOP_SPEND_CATEGORIES = 8;
export const TOP_ENGAGEMENT_CATEGORIES = 8;
export const WINDOWS = [30, 90, 365] as const;
export const ENGAGEMENT_WINDOWS = [30, 90] as const;
export const ENGAGEMENT_TYPES = Object.values(BuiltinEventType).filter(
  (t) => t !== BuiltinEventType.PURCHASE,
);
/** Engagement with a product or topic: what counts towards engagement per category. */
export const CATEGORY_ENGAGEMENT_TYPES = [
  BuiltinEventType.PAGE_VIEW,
  BuiltinEventType.DOWNLOAD,
  BuiltinEventType.EMAIL_CLICK,
  BuiltinEventType.EVENT_ATTENDANCE,
] as const;
export const CHANNELS = Object.values(Channel);

export type FeatureKind = 'numeric' | 'categorical';

export interface FeatureDefinition {
  name: string;
  kind: FeatureKind;
  /** How a reviewer or data scientist reads it. */
  description: string;
  /** How a missing value reads when it means something (no purchases yet), not "unknown". */
  missing?: string;
  /** A share of a whole (0–1): explanations word it as a percentage. */
  share?: true;
  /** SQL over `c` (customer), `ev` (the per-customer event aggregates) and `p.as_of`. */
  sql: string;
}

/** Keeps feature names to [a-z0-9_] whatever the category or trait is called. */
export function slug(text: string): string {
  const s = text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
  return s || Buffer.from(text).toString('hex').slice(0, 16);
}

const sqlText = (value: string) => `'${value.replace(/'/g, "''")}'`;
const engaged = `e.type in (${CATEGORY_ENGAGEMENT_TYPES.map(sqlText).join(', ')})`;
const days = (expr: string) =>
  `round((extract(epoch from (p.as_of - ${expr})) / 86400)::numeric, 2)`;
const ratio = (num: string, den: string) =>
  `case when coalesce(${den}, 0) > 0 then round((${num} / ${den})::numeric, 4) end`;

/**
 * The aggregates computed per customer in one pass over events (`e`), all relative to `p.as_of`.
 * Every name here is referenced by FEATURE definitions as `ev.<name>`.
 */
export function eventAggregates(set: FeatureSet): string[] {
  const categories = set.spendCategories ?? [];
  const purchase = `e.type = 'PURCHASE'`;
  const within = (d: number) => `e.occurred_at > p.as_of - interval '${d} days'`;
  return [
    `max(e.occurred_at) filter (where ${purchase}) as last_purchase`,
    `max(e.occurred_at) as last_interaction`,
    `count(*) filter (where ${purchase}) as purchases_all`,
    `coalesce(sum(e.amount) filter (where ${purchase}), 0) as spend_all`,
    ...WINDOWS.flatMap((d) => [
      `count(*) filter (where ${purchase} and ${within(d)}) as purchases_${d}d`,
      `coalesce(sum(e.amount) filter (where ${purchase} and ${within(d)}), 0) as spend_${d}d`,
    ]),
    ...categories.map(
      (category, i) =>
        `coalesce(sum(e.amount) filter (where ${purchase} and e.category = ${sqlText(category)}), 0) as spend_cat_${i}`,
    ),
    // Shares are of categorised engagement only: an email click on no product says nothing about
    // which products interest the customer.
    `count(e.category) filter (where ${engaged}) as engagement_categorised`,
    ...(set.engagementCategories ?? []).flatMap((category, i) => {
      const on = `e.category = ${sqlText(category)} and ${engaged}`;
      return [
        `count(*) filter (where ${on}) as engagement_cat_${i}`,
        ...WINDOWS.map(
          (d) => `count(*) filter (where ${on} and ${within(d)}) as engagement_cat_${i}_${d}d`,
        ),
      ];
    }),
    `count(e.channel) as channel_events`,
    ...CHANNELS.map(
      (ch) => `count(*) filter (where e.channel = '${ch}') as channel_${ch.toLowerCase()}`,
    ),
    ...ENGAGEMENT_TYPES.flatMap((type) =>
      ENGAGEMENT_WINDOWS.map(
        (d) =>
          `count(*) filter (where e.type = '${type}' and ${within(d)}) as ${type.toLowerCase()}_${d}d`,
      ),
    ),
  ];
}

export function featureDefinitions(set: FeatureSet): FeatureDefinition[] {
  const n = (
    name: string,
    description: string,
    sql: string,
    missing?: string,
  ): FeatureDefinition => ({
    name,
    kind: 'numeric',
    description,
    sql,
    ...(missing === undefined ? {} : { missing }),
  });
  const share = (name: string, description: string, sql: string, missing: string) => ({
    ...n(name, description, sql, missing),
    share: true as const,
  });
  const categories = set.spendCategories ?? [];
  const profile: Record<ProfileFeature, FeatureDefinition> = {
    age: n('age', 'age in years', `extract(year from p.as_of)::int - c.birth_year`),
    company_size: n('company_size', 'employees of the company', 'c.company_size'),
    gender: { name: 'gender', kind: 'categorical', description: 'gender', sql: 'c.gender' },
    region: { name: 'region', kind: 'categorical', description: 'region', sql: 'c.region' },
    industry: { name: 'industry', kind: 'categorical', description: 'industry', sql: 'c.industry' },
    lifecycle_stage: {
      name: 'lifecycle_stage',
      kind: 'categorical',
      description: 'lifecycle stage',
      sql: 'c.lifecycle_stage',
    },
  };
  return [
    n(
      'days_since_last_purchase',
      'days since the last purchase',
      days('ev.last_purchase'),
      'no purchase yet',
    ),
    n(
      'days_since_last_interaction',
      'days since the last event of any kind',
      days('ev.last_interaction'),
      'no events yet',
    ),
    n(
      'tenure_days',
      'days since the customer was first seen',
      days('coalesce(c.first_seen_at, c.created_at)'),
    ),
    ...WINDOWS.map((d) =>
      n(`purchases_${d}d`, `purchases in the last ${d} days`, `coalesce(ev.purchases_${d}d, 0)`),
    ),
    n('purchases_all', 'purchases ever', 'coalesce(ev.purchases_all, 0)'),
    ...WINDOWS.map((d) =>
      n(`spend_${d}d`, `spend in the last ${d} days`, `coalesce(ev.spend_${d}d, 0)`),
    ),
    n('spend_all', 'spend ever', 'coalesce(ev.spend_all, 0)'),
    n(
      'avg_order_value',
      'average purchase amount',
      ratio('ev.spend_all', 'ev.purchases_all'),
      'no purchases yet, so no average purchase amount',
    ),
    ...categories.map((category, i) =>
      share(
        `spend_share_${slug(category)}`,
        `share of spend on ${category}`,
        ratio(`ev.spend_cat_${i}`, 'ev.spend_all'),
        `no spend yet, so no share of spend on ${category}`,
      ),
    ),
    ...(set.engagementCategories ?? []).flatMap((category, i) => [
      ...WINDOWS.map((d) =>
        n(
          `engagement_${slug(category)}_${d}d`,
          `engagement with ${category} in the last ${d} days`,
          `coalesce(ev.engagement_cat_${i}_${d}d, 0)`,
        ),
      ),
      share(
        `engagement_share_${slug(category)}`,
        `share of engagement on ${category}`,
        ratio(`ev.engagement_cat_${i}::numeric`, 'ev.engagement_categorised'),
        `no engagement with a category yet, so no share of engagement on ${category}`,
      ),
    ]),
    ...CHANNELS.map((ch) =>
      share(
        `channel_share_${ch.toLowerCase()}`,
        `share of events in channel ${ch}`,
        ratio(`ev.channel_${ch.toLowerCase()}::numeric`, 'ev.channel_events'),
        `no events with a channel yet, so no share of events in channel ${ch}`,
      ),
    ),
    ...ENGAGEMENT_TYPES.flatMap((type) =>
      ENGAGEMENT_WINDOWS.map((d) =>
        n(
          `${type.toLowerCase()}_${d}d`,
          `${type.toLowerCase().replace(/_/g, ' ')} events in the last ${d} days`,
          `coalesce(ev.${type.toLowerCase()}_${d}d, 0)`,
        ),
      ),
    ),
    ...set.profile.map((p) => profile[p]),
    ...set.numericAttributes.map((a) =>
      n(
        `attr_${slug(a)}`,
        `trait ${a}`,
        `case when jsonb_typeof(c.attributes->${sqlText(a)}) = 'number' then (c.attributes->>${sqlText(a)})::numeric end`,
      ),
    ),
    ...set.categoricalAttributes.map((a): FeatureDefinition => ({
      name: `attr_${slug(a)}`,
      kind: 'categorical',
      description: `trait ${a}`,
      sql: `c.attributes->>${sqlText(a)}`,
    })),
    ...set.dateAttributes.map((a) =>
      n(
        `attr_${slug(a)}_days`,
        `days since trait ${a}`,
        `(p.as_of::date - tagwise_try_date(c.attributes->>${sqlText(a)}))`,
      ),
    ),
  ];
}

/** Explanation wording of the definitions: descriptions, and missing values where they mean something. */
export function featureWording(definitions: readonly FeatureDefinition[]): {
  descriptions: Record<string, string>;
  missing: Record<string, string>;
  shares: string[];
} {
  return {
    descriptions: Object.fromEntries(definitions.map((d) => [d.name, d.description])),
    shares: definitions.filter((d) => d.share).map((d) => d.name),
    missing: Object.fromEntries(
      definitions.flatMap((d) => (d.missing === undefined ? [] : [[d.name, d.missing]])),
    ),
  };
}

/** The lists of a feature set that name customer attributes, and the kind each declares. */
export const ATTRIBUTE_LISTS = {
  numericAttributes: 'numeric',
  categoricalAttributes: 'categorical',
  dateAttributes: 'date',
} as const;
export type AttributeKind = (typeof ATTRIBUTE_LISTS)[keyof typeof ATTRIBUTE_LISTS];

/** How many customers hold each JSON type under one attribute; `dates`: strings that read as dates. */
export interface AttributeValueCounts {
  number: number;
  string: number;
  boolean: number;
  object: number;
  array: number;
  dates: number;
}

const HOLDINGS = {
  number: 'numbers',
  string: 'text',
  boolean: 'booleans (true/false)',
  object: 'objects',
  array: 'lists',
} as const;
type JsonType = keyof typeof HOLDINGS;
const EXPECTED: Record<AttributeKind, string> = {
  numeric: 'numbers',
  categorical: 'single values (text, numbers or true/false)',
  date: 'dates',
};

/** What customers hold under an attribute that a feature of the kind cannot read, by count. */
function misfits(kind: AttributeKind, counts: AttributeValueCounts): { what: string; n: number }[] {
  const of = (types: JsonType[]) =>
    types.map((type) => ({ what: HOLDINGS[type], n: counts[type] }));
  switch (kind) {
    case 'numeric':
      return of(['string', 'boolean', 'object', 'array']);
    case 'categorical':
      return of(['object', 'array']);
    case 'date':
      return [
        { what: 'text that is not a date', n: counts.string - counts.dates },
        ...of(['number', 'boolean', 'object', 'array']),
      ];
  }
}

/**
 * Why an attribute cannot be a feature of the declared kind, or null when it can. It can unless
 * most customers that have it hold something the feature cannot read (it reads a number; a date;
 * any single value for a category): the rest become missing values, as a stray "n/a" among incomes
 * should, whereas an attribute few hold in that form would be a feature missing almost everywhere.
 */
export function attributeMisfit(
  name: string,
  kind: AttributeKind,
  counts: AttributeValueCounts | undefined,
): string | null {
  const total = counts
    ? (Object.keys(HOLDINGS) as JsonType[]).reduce((sum, type) => sum + counts[type], 0)
    : 0;
  if (!counts || total === 0) return `no customer has attribute "${name}"`;
  const wrong = misfits(kind, counts)
    .filter((m) => m.n > 0)
    .sort((a, b) => b.n - a.n);
  const unread = wrong.reduce((sum, m) => sum + m.n, 0);
  if (unread * 2 <= total) return null;
  const count = (n: number) => n.toLocaleString('en-US');
  const holds =
    unread === total && wrong.length === 1
      ? wrong[0]!.what
      : `${wrong.map((m) => `${m.what} for ${count(m.n)}`).join(' and ')} of its ${count(total)} customers`;
  return `attribute "${name}" holds ${holds}, not ${EXPECTED[kind]}`;
}
