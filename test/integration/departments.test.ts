import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { createTestApp, errorOf, type GqlResult, type TestApp } from '../support/app.js';
import { applyTags, createCustomers, createTaxonomy, type Taxonomy } from '../support/fixtures.js';

/**
 * Department visibility walked path by path. The taxonomy of fixtures.ts plus a category
 * restricted to `finance` (tag `vip-credit`) and a tag of the open `interest` category restricted
 * to `risk` (`risk-watch`). A marketing reviewer must see neither anywhere, and every refusal must
 * read exactly as it would for an id or key that does not exist.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('department visibility', () => {
  let t: TestApp;
  let taxonomy: Taxonomy;
  let customers: Record<string, string>;
  let marketing: string;
  let finance: string;
  let hidden: { credit: string; watch: string; finance: string };
  let segmentIds: Record<string, string>;
  let hiddenRuleId: string;
  let suggestionIds: { credit: string; wine: string };

  const as = (key: string) => (query: string, variables?: Record<string, unknown>) =>
    t.gql(query, variables, { key });
  const okAs = async (key: string, query: string, variables?: Record<string, unknown>) => {
    const result = await t.gql(query, variables, { key });
    if (result.errors?.length) throw new Error(JSON.stringify(result.errors));
    return result.data as any;
  };
  /** The refusal for a hidden thing must be the refusal for an absent one, id aside. */
  const sameAsAbsent = (hiddenResult: GqlResult, absentResult: GqlResult, hiddenId: string) => {
    const a = errorOf(hiddenResult);
    const b = errorOf(absentResult);
    expect(a.code).toBe(b.code);
    expect(a.field).toEqual(b.field);
    expect(a.message.replaceAll(hiddenId, 'ID')).toBe(b.message.replaceAll('999999', 'ID'));
  };

  beforeAll(async () => {
    t = await createTestApp();
    taxonomy = await createTaxonomy(t);
    const category = await t.ok(
      `mutation { createTagCategory(input: { key: "credit", name: "Credit", kind: VALUE, departments: ["finance"] }) { id departments } }`,
    );
    expect(category.createTagCategory.departments).toEqual(['finance']);
    const credit = await t.ok(
      `mutation($c: ID!) { createTag(input: { key: "vip-credit", name: "VIP credit", categoryId: $c }) { id } }`,
      { c: category.createTagCategory.id },
    );
    const watch = await t.ok(
      `mutation($c: ID!) { createTag(input: { key: "risk-watch", name: "Risk watch", categoryId: $c, departments: ["risk"] }) { id departments } }`,
      { c: taxonomy.categories.interest },
    );
    expect(watch.createTag.departments).toEqual(['risk']);
    hidden = {
      credit: credit.createTag.id,
      watch: watch.createTag.id,
      finance: category.createTagCategory.id,
    };
    const auth = new AuthService(t.app.orm.em.fork());
    marketing = (
      await auth.createKey({ role: Role.REVIEWER, name: 'mkt', departments: ['marketing'] })
    ).key;
    finance = (await auth.createKey({ role: Role.REVIEWER, name: 'fin', departments: ['finance'] }))
      .key;

    customers = await createCustomers(t, [
      { externalId: 'c1', region: 'South' },
      { externalId: 'c2', region: 'North' },
    ]);
    await applyTags(t, [customers.c1!], [hidden.credit, taxonomy.tags.reader!]);
    await applyTags(t, [customers.c2!], [hidden.watch, taxonomy.tags['wine-lover']!]);

    segmentIds = {};
    for (const [key, text] of [
      ['credit-vips', 'tag:vip-credit'],
      ['readers', 'category:interest'],
      ['south', 'region = "South"'],
      ['south-credit', 'segment:credit-vips AND segment:south'],
    ]) {
      const data = await t.ok(
        `mutation($i: CreateSegmentInput!) { createSegment(input: $i) { id } }`,
        { i: { key, name: key, text } },
      );
      segmentIds[key!] = data.createSegment.id;
    }
    const rule = await t.ok(`mutation($i: CreateRuleInput!) { createRule(input: $i) { id } }`, {
      i: { name: 'southern credit', text: 'region = "South"', tagId: hidden.credit },
    });
    hiddenRuleId = rule.createRule.id;
    await t.ok(`mutation($i: CreateRuleInput!) { createRule(input: $i) { id } }`, {
      i: { name: 'readers', text: 'category:interest', tagId: taxonomy.tags['event-attendee'] },
    });

    // A model version naming both kinds of tag, and one pending suggestion of each.
    const [model] = await t.sql<{ id: string }>(
      `insert into model_version (version, seed, params, feature_schema, training_summary, metrics, backend, artifact_path, status)
       values ('v-dep', 1, ?::jsonb, '{"featureSetVersion": 1, "features": []}', ?::jsonb, ?::jsonb, 'cpu', '/nowhere', 'ACTIVE')
       returning id`,
      [
        JSON.stringify({ tags: ['vip-credit', 'wine-lover'] }),
        JSON.stringify({ tags: [{ key: 'vip-credit' }, { key: 'wine-lover' }] }),
        JSON.stringify({
          silhouette: 0.3,
          tags: [evaluation('vip-credit'), evaluation('wine-lover')],
        }),
      ],
    );
    const rows = await t.sql<{ id: string; tag_id: string }>(
      `insert into tag_suggestion (customer_id, tag_id, source, kind, confidence, threshold, margin, model_version_id, explanation)
       values (?, ?, 'MODEL', 'ADD', 0.8, 0.5, 0.3, ?, '{}'), (?, ?, 'MODEL', 'ADD', 0.7, 0.5, 0.2, ?, '{}')
       returning id, tag_id`,
      [
        customers.c2,
        hidden.credit,
        model!.id,
        customers.c1,
        taxonomy.tags['wine-lover'],
        model!.id,
      ],
    );
    // The scoring job keeps the queue's per-tag tallies; rows written by hand need theirs.
    await t.sql(
      `insert into suggestion_tally (tag_id, status, n) values (?, 'PENDING', 1), (?, 'PENDING', 1)`,
      [hidden.credit, taxonomy.tags['wine-lover']],
    );
    suggestionIds = {
      credit: rows.find((r) => String(r.tag_id) === hidden.credit)!.id,
      wine: rows.find((r) => String(r.tag_id) !== hidden.credit)!.id,
    };
  }, 60_000);
  afterAll(() => t?.close());

  it('leaves hidden tags and categories out of the taxonomy, as if absent', async () => {
    const q = `{ tags(first: 100) { totalCount edges { node { key } } }
                 tagCategories(first: 100) { totalCount edges { node { key tags { key } } } } }`;
    const mine = await okAs(marketing, q);
    const keys = mine.tags.edges.map((e: any) => e.node.key);
    expect(keys).not.toContain('vip-credit');
    expect(keys).not.toContain('risk-watch');
    expect(mine.tags.totalCount).toBe(keys.length);
    const categories = mine.tagCategories.edges.map((e: any) => e.node);
    expect(categories.map((c: any) => c.key)).not.toContain('credit');
    expect(mine.tagCategories.totalCount).toBe(categories.length);
    const interest = categories.find((c: any) => c.key === 'interest');
    expect(interest.tags.map((x: any) => x.key)).toEqual(['reader']);

    const all = await t.ok(q);
    expect(all.tags.totalCount).toBe(mine.tags.totalCount + 2);
    const fin = await okAs(finance, q);
    expect(fin.tags.edges.map((e: any) => e.node.key)).toContain('vip-credit');
    expect(fin.tags.edges.map((e: any) => e.node.key)).not.toContain('risk-watch');

    const tag = `query($id: ID!) { tag(id: $id) { key } }`;
    sameAsAbsent(
      await as(marketing)(tag, { id: hidden.credit }),
      await as(marketing)(tag, { id: '999999' }),
      hidden.credit,
    );
  });

  it('leaves hidden tags out of customers’ tags, history, filters and counts', async () => {
    const q = `query($id: ID!) { customer(id: $id) {
      tags { tag { key } } tagHistory(first: 50) { totalCount edges { node { tag { key } } } }
      suggestions { tag { key } } segments { key } } }`;
    const c1 = (await okAs(marketing, q, { id: customers.c1 })).customer;
    expect(c1.tags.map((x: any) => x.tag.key)).toEqual(['reader']);
    expect(c1.tagHistory.edges.map((e: any) => e.node.tag.key)).toEqual(['reader']);
    expect(c1.tagHistory.totalCount).toBe(1);
    expect(c1.suggestions.map((s: any) => s.tag.key)).toEqual(['wine-lover']);
    expect(c1.segments.map((s: any) => s.key)).toEqual(['readers', 'south']);
    const c2 = (await okAs(marketing, q, { id: customers.c2 })).customer;
    expect(c2.tags.map((x: any) => x.tag.key)).toEqual(['wine-lover']);
    expect(c2.suggestions).toEqual([]);
    const admin = (await t.ok(q, { id: customers.c1 })).customer;
    expect(admin.tags.map((x: any) => x.tag.key).sort()).toEqual(['reader', 'vip-credit']);
    expect(admin.segments.map((s: any) => s.key)).toEqual([
      'credit-vips',
      'readers',
      'south',
      'south-credit',
    ]);

    const list = `query($f: CustomerFilter) { customers(filter: $f) { totalCount } }`;
    // Interest holders: c1 (reader) and c2 (risk-watch, hidden, and wine-lover, in food under
    // interest): both; a category with only hidden holdings would drop its holder.
    expect(
      (await okAs(marketing, list, { f: { tagCategoryId: taxonomy.categories.interest } }))
        .customers.totalCount,
    ).toBe(2);
    sameAsAbsent(
      await as(marketing)(list, { f: { tags: { anyOf: [hidden.credit] } } }),
      await as(marketing)(list, { f: { tags: { anyOf: ['999999'] } } }),
      hidden.credit,
    );
    sameAsAbsent(
      await as(marketing)(list, { f: { tagCategoryId: hidden.finance } }),
      await as(marketing)(list, { f: { tagCategoryId: '999999' } }),
      hidden.finance,
    );
    expect(
      (await okAs(finance, list, { f: { tags: { anyOf: [hidden.credit] } } })).customers.totalCount,
    ).toBe(1);
  });

  it('counts a category by its visible tags only', async () => {
    await t.ok(
      `mutation($c: [ID!]!, $t: [ID!]!) { removeTags(customerIds: $c, tagIds: $t) { removed } }`,
      {
        c: [customers.c2],
        t: [taxonomy.tags['wine-lover']],
      },
    );
    try {
      const list = `query($f: CustomerFilter) { customers(filter: $f) { totalCount } }`;
      const f = { f: { tagCategoryId: taxonomy.categories.interest } };
      // c2 now holds only the hidden risk-watch under interest.
      expect((await okAs(marketing, list, f)).customers.totalCount).toBe(1);
      expect((await t.ok(list, f)).customers.totalCount).toBe(2);
      const preview = `{ previewSegment(definition: { text: "category:interest" }) { count } }`;
      expect((await okAs(marketing, preview)).previewSegment.count).toBe(1);
      expect((await t.ok(preview)).previewSegment.count).toBe(2);
      const size = `query($id: ID!) { segment(id: $id) { size } }`;
      expect((await okAs(marketing, size, { id: segmentIds.readers })).segment.size).toBe(1);
      expect((await t.ok(size, { id: segmentIds.readers })).segment.size).toBe(2);
    } finally {
      await applyTags(t, [customers.c2!], [taxonomy.tags['wine-lover']!]);
    }
  });

  it('hides segments naming a hidden tag, and refuses hidden names in conditions', async () => {
    const q = `{ segments(first: 50) { totalCount edges { node { key } } } }`;
    const mine = await okAs(marketing, q);
    expect(mine.segments.edges.map((e: any) => e.node.key)).toEqual(['readers', 'south']);
    expect(mine.segments.totalCount).toBe(2);
    expect((await t.ok(q)).segments.totalCount).toBe(4);
    const one = `query($id: ID!) { segment(id: $id) { key } }`;
    for (const key of ['credit-vips', 'south-credit']) {
      sameAsAbsent(
        await as(marketing)(one, { id: segmentIds[key] }),
        await as(marketing)(one, { id: '999999' }),
        segmentIds[key]!,
      );
    }
    const preview = (text: string) =>
      as(marketing)(`query($t: String!) { previewSegment(definition: { text: $t }) { count } }`, {
        t: text,
      });
    const hiddenTag = await preview('tag:vip-credit');
    const absentTag = await preview('tag:no-such-tag');
    expect(errorOf(hiddenTag).code).toBe(errorOf(absentTag).code);
    expect(errorOf(hiddenTag).message.replace('vip-credit', 'X')).toBe(
      errorOf(absentTag).message.replace('no-such-tag', 'X'),
    );
    expect(errorOf(await preview('category:credit')).code).toBe('BAD_USER_INPUT');
    expect(errorOf(await preview('segment:credit-vips')).code).toBe(
      errorOf(await preview('segment:no-such-segment')).code,
    );
    expect(
      (await okAs(finance, `{ previewSegment(definition: { text: "tag:vip-credit" }) { count } }`))
        .previewSegment.count,
    ).toBe(1);
  });

  it('hides rules applying or naming a hidden tag, with their conflicts and reports', async () => {
    const q = `{ rules(first: 50) { totalCount edges { node { name } } } }`;
    const mine = await okAs(marketing, q);
    expect(mine.rules.edges.map((e: any) => e.node.name)).toEqual(['readers']);
    expect(mine.rules.totalCount).toBe(1);
    expect((await t.ok(q)).rules.totalCount).toBe(2);
    const one = `query($id: ID!) { rule(id: $id) { name } }`;
    sameAsAbsent(
      await as(marketing)(one, { id: hiddenRuleId }),
      await as(marketing)(one, { id: '999999' }),
      hiddenRuleId,
    );
    const dataScientist = (
      await new AuthService(t.app.orm.em.fork()).createKey({
        role: Role.DATA_SCIENTIST,
        name: 'ds-mkt',
        departments: ['marketing'],
      })
    ).key;
    const create = (tagId: string, text = 'region = "South"') =>
      t.gql(
        `mutation($i: CreateRuleInput!) { createRule(input: $i) { id } }`,
        { i: { name: `r-${tagId}`, text, tagId } },
        { key: dataScientist },
      );
    sameAsAbsent(await create(hidden.credit), await create('999999'), hidden.credit);
    // A conflict of the hidden rule: it cannot be listed, nor resolved, as if absent.
    const [conflict] = await t.sql<{ id: string }>(
      `insert into rule_conflict (rule_id, customer_id, tag_id, kind) values (?, ?, ?, 'APPLY_REJECTED')
       returning id::text`,
      [hiddenRuleId, customers.c2, hidden.credit],
    );
    const conflicts = `{ ruleConflicts(first: 50) { totalCount } }`;
    expect((await okAs(marketing, conflicts)).ruleConflicts.totalCount).toBe(0);
    expect((await t.ok(conflicts)).ruleConflicts.totalCount).toBe(1);
    const resolve = (id: string) =>
      t.gql(
        `mutation($id: ID!) { resolveRuleConflict(id: $id, resolution: ACCEPT_RULE) { id } }`,
        { id },
        { key: dataScientist },
      );
    sameAsAbsent(await resolve(conflict!.id), await resolve('999999'), conflict!.id);
    const [open] = await t.sql(`select resolved_at from rule_conflict where id = ?`, [
      conflict!.id,
    ]);
    expect(open).toEqual({ resolved_at: null });
    const byName = await create(taxonomy.tags.reader!, 'tag:vip-credit');
    expect(errorOf(byName).code).toBe('BAD_USER_INPUT');
    const train = `mutation($i: TrainModelsInput) { trainModels(input: $i) { id } }`;
    const hiddenTrain = await t.gql(train, { i: { tags: ['vip-credit'] } }, { key: dataScientist });
    const absentTrain = await t.gql(train, { i: { tags: ['no-such'] } }, { key: dataScientist });
    expect(errorOf(hiddenTrain)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.tags[0]' });
    expect(errorOf(hiddenTrain).message.replace('vip-credit', 'X')).toBe(
      errorOf(absentTrain).message.replace('no-such', 'X'),
    );
    const [runs] = await t.sql<{ n: number }>('select count(*)::int as n from model_run');
    expect(runs!.n).toBe(0);
  });

  it('leaves hidden suggestions out of the queue, its counts and every decision', async () => {
    const q = `{ reviewQueue(first: 50) { totalCount countsByTag { tag { key } count } edges { node { id tag { key } } } } }`;
    const mine = (await okAs(marketing, q)).reviewQueue;
    expect(mine.edges.map((e: any) => e.node.tag.key)).toEqual(['wine-lover']);
    expect(mine.totalCount).toBe(1);
    expect(mine.countsByTag).toEqual([{ tag: { key: 'wine-lover' }, count: 1 }]);
    expect((await t.ok(q)).reviewQueue.totalCount).toBe(2);

    const one = `query($id: ID!) { suggestion(id: $id) { id } }`;
    sameAsAbsent(
      await as(marketing)(one, { id: suggestionIds.credit }),
      await as(marketing)(one, { id: '999999' }),
      suggestionIds.credit,
    );
    for (const mutation of [
      `mutation($id: ID!) { approveSuggestion(id: $id) { id } }`,
      `mutation($id: ID!) { rejectSuggestion(id: $id) { id } }`,
    ]) {
      sameAsAbsent(
        await as(marketing)(mutation, { id: suggestionIds.credit }),
        await as(marketing)(mutation, { id: '999999' }),
        suggestionIds.credit,
      );
    }
    const review = `mutation($i: ReviewSuggestionsInput!) { reviewSuggestions(input: $i) { matched decided } }`;
    sameAsAbsent(
      await as(marketing)(review, { i: { ids: [suggestionIds.credit], decision: 'REJECT' } }),
      await as(marketing)(review, { i: { ids: ['999999'], decision: 'REJECT' } }),
      suggestionIds.credit,
    );
    const dry = await okAs(marketing, review, {
      i: { filter: {}, decision: 'REJECT', dryRun: true },
    });
    expect(dry.reviewSuggestions.matched).toBe(1);
    const [state] = await t.sql<{ status: string }>(
      'select status from tag_suggestion where id = ?',
      [suggestionIds.credit],
    );
    expect(state!.status).toBe('PENDING');
  });

  it('refuses applying and removing hidden tags as unknown ones, writing nothing', async () => {
    const apply = `mutation($c: [ID!]!, $t: [ID!]!) { applyTags(customerIds: $c, tagIds: $t) { applied } }`;
    const remove = `mutation($c: [ID!]!, $t: [ID!]!) { removeTags(customerIds: $c, tagIds: $t) { removed } }`;
    for (const mutation of [apply, remove]) {
      sameAsAbsent(
        await as(marketing)(mutation, { c: [customers.c1], t: [hidden.credit] }),
        await as(marketing)(mutation, { c: [customers.c1], t: ['999999'] }),
        hidden.credit,
      );
    }
    const [held] = await t.sql<{ n: number }>(
      'select count(*)::int as n from customer_tag where tag_id = ?',
      [hidden.credit],
    );
    expect(held!.n).toBe(1);
  });

  it('leaves hidden tags out of model versions’ parameters, summaries and metrics', async () => {
    const q = `{ activeModelVersion { params trainingSummary metrics tagEvaluations { tag } } }`;
    const mine = (await okAs(marketing, q)).activeModelVersion;
    expect(JSON.stringify(mine)).not.toContain('vip-credit');
    expect(mine.tagEvaluations.map((e: any) => e.tag)).toEqual(['wine-lover']);
    expect(mine.params.tags).toEqual(['wine-lover']);
    const all = (await t.ok(q)).activeModelVersion;
    expect(all.tagEvaluations.map((e: any) => e.tag)).toEqual(['vip-credit', 'wine-lover']);
  });

  it('narrows the CLI’s exports and model reports to what --api-key may see', async () => {
    const cli = (...args: string[]) =>
      promisify(execFile)('node', [path.join(ROOT, 'bin/tagwise.js'), ...args], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'silent', TAGWISE_API_KEY: '' },
      }).then(
        (done) => ({ code: 0, ...done }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
    const hiddenSegment = await cli('segments', 'export', 'credit-vips', '--api-key', marketing);
    const absentSegment = await cli('segments', 'export', 'no-such', '--api-key', marketing);
    expect(hiddenSegment.code).toBe(1);
    expect(hiddenSegment.stderr.replace('credit-vips', 'K')).toBe(
      absentSegment.stderr.replace('no-such', 'K'),
    );
    // The operator, and a key of the department, export it.
    expect((await cli('segments', 'export', 'credit-vips')).stdout).toContain('c1');
    expect((await cli('segments', 'export', 'credit-vips', '--api-key', finance)).stdout).toContain(
      'c1',
    );
    const forMarketing = await cli('models', 'show', 'v-dep', '--json', '--api-key', marketing);
    expect(forMarketing.stdout).toContain('wine-lover');
    expect(forMarketing.stdout).not.toContain('vip-credit');
    expect((await cli('models', 'list', '--json')).stdout).toContain('vip-credit');
    const revoked = await cli('models', 'list', '--api-key', 'tw_not-a-key');
    expect(revoked).toMatchObject({ code: 1 });
    expect(revoked.stderr).toContain('--api-key: the key is unknown, revoked or expired');
  }, 120_000);

  it('restricts exclusive categories as a whole, never one of their tags', async () => {
    const result = await t.gql(
      `mutation($c: ID!) { createTag(input: { key: "secret-tier", name: "x", categoryId: $c, departments: ["finance"] }) { id } }`,
      { c: taxonomy.categories['value-tier'] },
    );
    expect(errorOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.departments' });
    const bad = await t.gql(
      `mutation($id: ID!) { restrictTagCategory(id: $id, departments: ["Not A Dept"]) { id } }`,
      { id: taxonomy.categories.behaviour },
    );
    expect(errorOf(bad)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'departments[0]' });
    const viewer = await t.gql(
      `mutation($id: ID!) { restrictTagCategory(id: $id, departments: ["x"]) { id } }`,
      { id: taxonomy.categories.behaviour },
      { as: Role.VIEWER },
    );
    expect(errorOf(viewer).code).toBe('FORBIDDEN');
  });

  it('makes a whole subtree invisible when a category is restricted, and visible again', async () => {
    const restrict = `mutation($id: ID!, $d: [String!]!) { restrictTagCategory(id: $id, departments: $d) { departments } }`;
    await t.ok(restrict, { id: taxonomy.categories.interest, d: ['risk'] });
    try {
      const q = `{ tags(first: 100) { edges { node { key } } } }`;
      const keys = (await okAs(marketing, q)).tags.edges.map((e: any) => e.node.key);
      // food is under interest: its tags go too.
      for (const key of ['reader', 'wine-lover', 'meat-lover', 'risk-watch']) {
        expect(keys).not.toContain(key);
      }
    } finally {
      await t.ok(restrict, { id: taxonomy.categories.interest, d: [] });
    }
    const keys = (
      await okAs(marketing, `{ tags(first: 100) { edges { node { key } } } }`)
    ).tags.edges.map((e: any) => e.node.key);
    expect(keys).toContain('wine-lover');
  });
});

function evaluation(tag: string) {
  return { tag, precision: 0.9, heldOut: { customers: 10, positives: 3, negatives: 7 } };
}
