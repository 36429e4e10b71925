import type { TestApp } from './app.js';

export interface Taxonomy {
  categories: Record<string, string>;
  tags: Record<string, string>;
}

/** A small taxonomy: an exclusive value tier, nested interests, a plain behaviour category. */
export async function createTaxonomy(t: TestApp): Promise<Taxonomy> {
  const categories: Record<string, string> = {};
  const tags: Record<string, string> = {};
  const category = async (key: string, kind: string, extra: Record<string, unknown> = {}) => {
    const data = await t.ok(
      `mutation($input: CreateTagCategoryInput!) { createTagCategory(input: $input) { id } }`,
      { input: { key, name: key, kind, ...extra } },
    );
    categories[key] = data.createTagCategory.id;
  };
  const tag = async (key: string, categoryKey: string) => {
    const data = await t.ok(
      `mutation($input: CreateTagInput!) { createTag(input: $input) { id } }`,
      {
        input: { key, name: key, categoryId: categories[categoryKey] },
      },
    );
    tags[key] = data.createTag.id;
  };
  await category('value-tier', 'VALUE', { exclusive: true, suggestable: true });
  await category('interest', 'INTEREST', { suggestable: true });
  await category('food', 'INTEREST', { parentId: categories.interest });
  await category('behaviour', 'BEHAVIOUR');
  for (const key of ['high-value', 'normal-value', 'low-value']) await tag(key, 'value-tier');
  for (const key of ['wine-lover', 'meat-lover']) await tag(key, 'food');
  await tag('reader', 'interest');
  for (const key of ['frequent-buyer', 'event-attendee']) await tag(key, 'behaviour');
  return { categories, tags };
}

export interface CustomerSeed {
  externalId: string;
  name?: string;
  email?: string | null;
  region?: string | null;
  industry?: string | null;
  companySize?: number | null;
  birthYear?: number | null;
  attributes?: Record<string, unknown>;
}

/** Upserts customers over GraphQL and returns their ids by externalId. */
export async function createCustomers(
  t: TestApp,
  customers: CustomerSeed[],
): Promise<Record<string, string>> {
  await t.ok(`mutation($input: [CustomerInput!]!) { upsertCustomers(input: $input) { created } }`, {
    input: customers,
  });
  const rows = await t.sql<{ id: string; external_id: string }>(
    `select id, external_id from customer where external_id = any(?::text[])`,
    [`{${customers.map((c) => `"${c.externalId}"`).join(',')}}`],
  );
  return Object.fromEntries(rows.map((r) => [r.external_id, r.id]));
}

export async function applyTags(t: TestApp, customerIds: string[], tagIds: string[]) {
  const data = await t.ok(
    `mutation($c: [ID!]!, $t: [ID!]!) { applyTags(customerIds: $c, tagIds: $t) { applied unchanged replaced } }`,
    { c: customerIds, t: tagIds },
  );
  return data.applyTags as { applied: number; unchanged: number; replaced: number };
}
