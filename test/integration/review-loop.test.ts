import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRules } from '../../src/jobs/rules.job.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { importFile } from '../../src/modules/import/import.service.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { applyTags, createCustomers, createTaxonomy, type Taxonomy } from '../support/fixtures.js';

const REVIEWER = `test-${Role.REVIEWER}`;
const REVIEW = `mutation($input: ReviewSuggestionsInput!) {
  reviewSuggestions(input: $input) {
    dryRun matched decided skipped { suggestionId status reason } sample { id }
  }
}`;

interface Negative {
  customerId: string;
  tagId: string;
  source: string;
  actor: string | null;
}

/** Reviewer decisions as labels, and pending suggestions that stop being questions. */
describe('the review loop', () => {
  let t: TestApp;
  let tax: Taxonomy;
  let ids: Record<string, string>;
  /** Customer k<n>'s id. */
  const c = (n: number) => ids[`k${n}`]!;
  let modelVersionId: string;
  let dir: string;

  /** Inserts a suggestion and its tally, as a scoring run does (no insert trigger keeps it). */
  async function suggest(
    customer: number,
    tag: string,
    options: { status?: string; autoApplied?: boolean; confidence?: number } = {},
  ): Promise<string> {
    const [row] = await t.sql<{ id: string }>(
      `with inserted as (
         insert into tag_suggestion (customer_id, tag_id, source, kind, confidence, threshold,
           margin, model_version_id, explanation, status, auto_applied)
         values (?, ?, 'MODEL', 'ADD', ?, 0.5, 0.3, ?, '{}', ?, ?)
         returning id, tag_id, status
       ),
       tallied as (insert into suggestion_tally (tag_id, status, n)
                   select tag_id, status, 1 from inserted)
       select id from inserted`,
      [
        c(customer),
        tax.tags[tag],
        options.confidence ?? 0.8,
        modelVersionId,
        options.status ?? 'PENDING',
        options.autoApplied ?? false,
      ],
    );
    return row!.id;
  }

  const statusOf = async (id: string) =>
    (
      await t.sql<{ status: string; reviewed: boolean }>(
        `select status, reviewed_at is not null as reviewed from tag_suggestion where id = ?`,
        [id],
      )
    )[0]!;

  const negativesOf = (customers: number[]) =>
    t.sql<Negative>(
      `select customer_id as "customerId", tag_id as "tagId", source, actor from tag_negative
       where customer_id = any(?::bigint[]) order by customer_id, tag_id`,
      [`{${customers.map(c).join(',')}}`],
    );

  const holds = async (customer: number, tag: string) =>
    (
      await t.sql(`select 1 from customer_tag where customer_id = ? and tag_id = ?`, [
        c(customer),
        tax.tags[tag],
      ])
    ).length === 1;

  const createTag = async (key: string, category: string) => {
    const data = await t.ok(
      `mutation($input: CreateTagInput!) { createTag(input: $input) { id } }`,
      { input: { key, name: key, categoryId: tax.categories[category] } },
    );
    tax.tags[key] = data.createTag.id;
  };

  beforeAll(async () => {
    t = await createTestApp();
    tax = await createTaxonomy(t);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-review-loop-'));
    ids = await createCustomers(
      t,
      Array.from({ length: 40 }, (_, i) => ({
        externalId: `k${i}`,
        name: `K ${i}`,
        companySize: i === 11 ? 5000 : 10,
      })),
    );
    [{ id: modelVersionId }] = (await t.sql(
      `insert into model_version (version, seed, params, feature_schema, training_summary, metrics, backend, artifact_path)
       values ('review-loop', 1, '{}', '{}', '{}', '{}', 'cpu', '/tmp') returning id`,
    )) as [{ id: string }];
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('makes every rejection and correction a known negative at once, by the reviewer', async () => {
    const single = await suggest(0, 'wine-lover');
    await t.ok(
      `mutation($id: ID!) { rejectSuggestion(id: $id) { status } }`,
      { id: single },
      Role.REVIEWER,
    );
    const corrected = await suggest(1, 'high-value');
    await t.ok(
      `mutation($id: ID!, $tag: ID!) { correctSuggestion(id: $id, tagId: $tag) { status } }`,
      { id: corrected, tag: tax.tags['normal-value'] },
      Role.REVIEWER,
    );
    const byIds = [await suggest(2, 'reader'), await suggest(3, 'reader')];
    const bulk = await t.ok(REVIEW, { input: { ids: byIds, decision: 'REJECT' } }, Role.REVIEWER);
    expect(bulk.reviewSuggestions.decided).toBe(2);
    await suggest(4, 'meat-lover');
    await suggest(5, 'meat-lover');
    const byFilter = await t.ok(
      REVIEW,
      { input: { filter: { tagIds: [tax.tags['meat-lover']] }, decision: 'REJECT' } },
      Role.REVIEWER,
    );
    expect(byFilter.reviewSuggestions.decided).toBe(2);

    const review = (customer: number, tag: string) => ({
      customerId: c(customer),
      tagId: tax.tags[tag],
      source: 'REVIEW',
      actor: REVIEWER,
    });
    expect(await negativesOf([0, 1, 2, 3, 4, 5])).toEqual([
      review(0, 'wine-lover'),
      review(1, 'high-value'),
      review(2, 'reader'),
      review(3, 'reader'),
      review(4, 'meat-lover'),
      review(5, 'meat-lover'),
    ]);
    expect(await holds(1, 'normal-value')).toBe(true);
  });

  it('keeps a negative an import stated when a reviewer rejects the same tag', async () => {
    await t.sql(
      `insert into tag_negative (customer_id, tag_id, source, actor) values (?, ?, 'IMPORT', 'file')`,
      [c(6), tax.tags['wine-lover']],
    );
    const id = await suggest(6, 'wine-lover');
    await t.ok(`mutation($id: ID!) { rejectSuggestion(id: $id) { id } }`, { id }, Role.REVIEWER);
    expect(await negativesOf([6])).toEqual([
      { customerId: c(6), tagId: tax.tags['wine-lover'], source: 'IMPORT', actor: 'file' },
    ]);
  });

  it('drops a reviewer’s negative when the customer is approved or corrected to the tag', async () => {
    await t.sql(
      `insert into tag_negative (customer_id, tag_id, source, actor)
       values (?, ?, 'REVIEW', 'earlier'), (?, ?, 'REVIEW', 'earlier')`,
      [c(7), tax.tags['wine-lover'], c(8), tax.tags['low-value']],
    );
    const approved = await suggest(7, 'wine-lover');
    await t.ok(
      `mutation($id: ID!) { approveSuggestion(id: $id) { id } }`,
      { id: approved },
      Role.REVIEWER,
    );
    expect((await statusOf(approved)).status).toBe('APPROVED');
    const corrected = await suggest(8, 'high-value');
    await t.ok(
      `mutation($id: ID!, $tag: ID!) { correctSuggestion(id: $id, tagId: $tag) { id } }`,
      { id: corrected, tag: tax.tags['low-value'] },
      Role.REVIEWER,
    );
    expect(await negativesOf([7, 8])).toEqual([
      { customerId: c(8), tagId: tax.tags['high-value'], source: 'REVIEW', actor: REVIEWER },
    ]);
  });

  it('retires a pending suggestion once the customer holds the tag, however it came', async () => {
    const byHand = await suggest(10, 'reader');
    const byRule = await suggest(11, 'frequent-buyer');
    const byImport = await suggest(12, 'meat-lover');
    const byCorrection = await suggest(13, 'normal-value');
    const corrected = await suggest(13, 'high-value');
    const untouched = [
      await suggest(10, 'wine-lover'),
      await suggest(15, 'reader'),
      await suggest(15, 'frequent-buyer'),
    ];

    await applyTags(t, [c(10)], [tax.tags.reader!]);
    await t.ok(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
      input: { name: 'Big', tagId: tax.tags['frequent-buyer'], text: 'company_size >= 5000' },
    });
    const rules = await runRules(t.app.orm, { origin: 'cli' });
    expect(rules.reports.map((r) => r.added)).toEqual([1]);
    const file = path.join(dir, 'tags.csv');
    await fs.writeFile(file, 'customerExternalId,tag\nk12,meat-lover\n');
    expect(await importFile(t.app.orm, { kind: 'tags', file })).toMatchObject({ inserted: 1 });
    await t.ok(
      `mutation($id: ID!, $tag: ID!) { correctSuggestion(id: $id, tagId: $tag) { id } }`,
      { id: corrected, tag: tax.tags['normal-value'] },
      Role.REVIEWER,
    );

    for (const id of [byHand, byRule, byImport, byCorrection]) {
      expect(await statusOf(id)).toEqual({ status: 'RETIRED', reviewed: true });
    }
    for (const id of untouched) expect((await statusOf(id)).status).toBe('PENDING');
    expect((await statusOf(corrected)).status).toBe('CORRECTED');
  });

  it('leaves a sampled auto-applied suggestion pending when its own statement applies the tag', async () => {
    const [row] = await t.sql<{ id: string }>(
      `with inserted as (
         insert into tag_suggestion (customer_id, tag_id, source, kind, confidence, threshold,
           margin, model_version_id, explanation, status, auto_applied)
         values (?, ?, 'MODEL', 'ADD', 0.99, 0.5, 0.49, ?, '{}', 'PENDING', true)
         returning id, customer_id, tag_id
       ),
       tallied as (insert into suggestion_tally (tag_id, status, n)
                   select tag_id, 'PENDING', 1 from inserted),
       applied as (insert into customer_tag (customer_id, tag_id, source, applied_by)
                   select customer_id, tag_id, 'MODEL', 'auto-apply' from inserted)
       select id from inserted`,
      [c(16), tax.tags.reader, modelVersionId],
    );
    expect(await holds(16, 'reader')).toBe(true);
    expect((await statusOf(row!.id)).status).toBe('PENDING');
  });

  it('retires the pending suggestions of a deprecated tag', async () => {
    await createTag('fading', 'interest');
    const pending = [await suggest(17, 'fading'), await suggest(18, 'fading')];
    const other = await suggest(17, 'wine-lover');
    await t.ok(`mutation($id: ID!) { deprecateTag(id: $id) { status } }`, { id: tax.tags.fading });
    for (const id of pending)
      expect(await statusOf(id)).toEqual({ status: 'RETIRED', reviewed: true });
    expect((await statusOf(other)).status).toBe('PENDING');
  });

  it('merges: retires the sources’ suggestions and the target’s where the merge gave it, and moves negatives', async () => {
    await createTag('merge-src', 'interest');
    await createTag('merge-dst', 'interest');
    await applyTags(t, [c(20)], [tax.tags['merge-src']!]);
    const source = await suggest(21, 'merge-src');
    const gained = await suggest(20, 'merge-dst');
    const stays = await suggest(22, 'merge-dst');
    await t.sql(
      `insert into tag_negative (customer_id, tag_id, source, actor, created_at) values
         (?, ?, 'REVIEW', 'ann', '2026-01-01'),
         (?, ?, 'IMPORT', 'file', '2026-01-02'),
         (?, ?, 'REVIEW', 'bob', '2026-01-03'),
         (?, ?, 'IMPORT', 'file', '2026-01-04'),
         (?, ?, 'REVIEW', 'cy', '2026-01-05')`,
      [
        c(20),
        tax.tags['merge-src'],
        c(23),
        tax.tags['merge-src'],
        c(23),
        tax.tags['merge-dst'],
        c(24),
        tax.tags['merge-src'],
        c(25),
        tax.tags['merge-src'],
      ],
    );
    await t.ok(
      `mutation($s: [ID!]!, $t: ID!) { mergeTags(sourceIds: $s, targetId: $t) { moved } }`,
      { s: [tax.tags['merge-src']], t: tax.tags['merge-dst'] },
    );

    expect(await statusOf(source)).toEqual({ status: 'RETIRED', reviewed: true });
    expect(await statusOf(gained)).toEqual({ status: 'RETIRED', reviewed: true });
    expect((await statusOf(stays)).status).toBe('PENDING');
    const dst = tax.tags['merge-dst'];
    // 20 holds the target now; 23 had a negative for it already; 24 and 25 move.
    expect(await negativesOf([20, 23, 24, 25])).toEqual([
      { customerId: c(23), tagId: dst, source: 'REVIEW', actor: 'bob' },
      { customerId: c(24), tagId: dst, source: 'IMPORT', actor: 'file' },
      { customerId: c(25), tagId: dst, source: 'REVIEW', actor: 'cy' },
    ]);
  });

  it('counts on a dry run exactly what the real bulk decision decides', async () => {
    await createTag('old-tier', 'value-tier');
    await t.ok(`mutation($id: ID!) { deprecateTag(id: $id) { id } }`, { id: tax.tags['old-tier'] });
    // Per customer: two pending suggestions of the exclusive value tier (one is approved), one of
    // a tag deprecated since (no transition retires it: written after), one already decided.
    const shape = async (customer: number) => [
      await suggest(customer, 'high-value', { confidence: 0.9 }),
      await suggest(customer, 'normal-value', { confidence: 0.7 }),
      await suggest(customer, 'old-tier'),
      await suggest(customer, 'low-value', { status: 'REJECTED' }),
    ];
    const ids = await shape(30);
    const byIds = { ids, decision: 'APPROVE' };
    const dryIds = await t.ok(REVIEW, { input: { ...byIds, dryRun: true } }, Role.REVIEWER);
    const realIds = await t.ok(REVIEW, { input: byIds }, Role.REVIEWER);
    expect(realIds.reviewSuggestions).toMatchObject({ matched: 4, decided: 1 });
    expect(realIds.reviewSuggestions.skipped.map((s: any) => s.reason).sort()).toEqual([
      'already decided',
      'another suggestion of the same exclusive category for this customer was approved',
      'tag deprecated',
    ]);
    expect({ ...dryIds.reviewSuggestions, dryRun: false }).toEqual(realIds.reviewSuggestions);

    await shape(31);
    const byFilter = {
      filter: { customerId: c(31), categoryIds: [tax.categories['value-tier']] },
      decision: 'APPROVE',
    };
    const dryFilter = await t.ok(REVIEW, { input: { ...byFilter, dryRun: true } }, Role.REVIEWER);
    const realFilter = await t.ok(REVIEW, { input: byFilter }, Role.REVIEWER);
    expect(realFilter.reviewSuggestions).toMatchObject({ matched: 3, decided: 1 });
    expect({ ...dryFilter.reviewSuggestions, dryRun: false }).toEqual(realFilter.reviewSuggestions);
    expect(await holds(31, 'high-value')).toBe(true);
  });

  it('keeps the queue tallies equal to a recount through every retirement', async () => {
    const tallied = await t.sql<{ tagId: string; status: string; n: number }>(
      `select tag_id as "tagId", status, sum(n)::int as n from suggestion_tally
       group by tag_id, status having sum(n) <> 0 order by 1, 2`,
    );
    const recounted = await t.sql<{ tagId: string; status: string; n: number }>(
      `select tag_id as "tagId", status, count(*)::int as n from tag_suggestion
       group by tag_id, status order by 1, 2`,
    );
    expect(tallied).toEqual(recounted);
    expect(recounted.filter((r) => r.status === 'RETIRED').length).toBeGreaterThanOrEqual(6);
    const data = await t.ok(
      `{ reviewQueue(first: 1, filter: { statuses: [RETIRED] }) { totalCount countsByTag { tag { id } count } } }`,
    );
    const retired = recounted.filter((r) => r.status === 'RETIRED');
    expect(data.reviewQueue.totalCount).toBe(retired.reduce((sum, r) => sum + r.n, 0));
    expect(
      Object.fromEntries(data.reviewQueue.countsByTag.map((x: any) => [x.tag.id, x.count])),
    ).toEqual(Object.fromEntries(retired.map((r) => [r.tagId, r.n])));
  });
});
