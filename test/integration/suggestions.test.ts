import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshFeatures } from '../../src/jobs/feature-refresh.job.js';
import {
  CANDIDATE_LOCK_CLASS,
  CANDIDATE_TABLE_PREFIX,
  generateSuggestions,
  type SuggestReport,
} from '../../src/jobs/suggest.job.js';
import { trainModels, type TrainReport } from '../../src/jobs/train.job.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { seedDemo } from '../../src/modules/demo/demo.service.js';
import { ModelRegistryService } from '../../src/modules/model-registry/model-registry.service.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';

const TAGS = ['wine-lover', 'meat-lover', 'high-value', 'normal-value', 'low-value'];

const APPROVE = `mutation($id: ID!, $note: String) {
  approveSuggestion(id: $id, note: $note) { id status reviewedBy reviewNote }
}`;
const REJECT = `mutation($id: ID!, $reason: String) {
  rejectSuggestion(id: $id, reason: $reason) { id status reviewedBy reviewNote }
}`;
const CORRECT = `mutation($id: ID!, $tagId: ID!, $note: String) {
  correctSuggestion(id: $id, tagId: $tagId, note: $note) { id status correctedTag { key } }
}`;
const REVIEW = `mutation($input: ReviewSuggestionsInput!) {
  reviewSuggestions(input: $input) {
    dryRun matched decided skipped { suggestionId status reason } sample { id confidence tag { key } }
  }
}`;

interface Row {
  id: string;
  customerId: string;
  tagId: string;
  key: string;
  status: string;
  kind: string;
  confidence: number;
  autoApplied: boolean;
  modelVersionId: string;
}

describe('suggestions and the review queue', () => {
  let t: TestApp;
  let modelsDir: string;
  let first: TrainReport;
  let firstRun: SuggestReport;
  const firstRunProgress: [phase: string, done: number, total: number][] = [];
  const tagId: Record<string, string> = {};

  const suggestions = (where = "s.status = 'PENDING'", params: unknown[] = []) =>
    t.sql<Row>(
      `select s.id, s.customer_id as "customerId", s.tag_id as "tagId", t.key, s.status, s.kind,
              s.confidence, s.auto_applied as "autoApplied", s.model_version_id as "modelVersionId"
       from tag_suggestion s join tag t on t.id = s.tag_id where ${where} order by s.id`,
      params,
    );
  const pendingOf = async (key: string) =>
    (await suggestions(`s.status = 'PENDING' and t.key = ? and not s.auto_applied`, [key]))[0]!;
  const count = async (sql: string, params: unknown[] = []) =>
    (await t.sql<{ n: number }>(`select count(*)::int as n from ${sql}`, params))[0]!.n;

  beforeAll(async () => {
    t = await createTestApp();
    modelsDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-models-'));
    await seedDemo(t.app.orm, { customers: 800, seed: 5 });
    await refreshFeatures(t.app.orm, { mode: 'full' });
    first = await trainModels(t.app.orm, {
      seed: 7,
      modelsDir,
      maxEpochs: 40,
      targetPrecision: 0.4,
      tags: TAGS,
      promote: true,
    });
    for (const r of await t.sql<{ id: string; key: string }>('select id, key from tag')) {
      tagId[r.key] = r.id;
    }
    firstRun = await generateSuggestions(t.app.orm, {
      workers: 1,
      onProgress: (...report) => firstRunProgress.push(report),
    });
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    if (modelsDir) await fs.rm(modelsDir, { recursive: true, force: true });
  });

  it('creates pending suggestions with explanations, never for a tag the customer holds', async () => {
    expect(firstRun.customers).toBe(800);
    // What `tagwise suggest`'s bar shows: scoring counts up to the customers it scores.
    const scoring = firstRunProgress.filter(([phase]) => phase === 'scoring');
    expect(scoring.at(-1)).toEqual(['scoring', 800, 800]);
    expect(scoring.every(([, done, total]) => done <= total)).toBe(true);
    expect(firstRun.created).toBeGreaterThan(20);
    expect(firstRun.alreadyHeld).toBeGreaterThan(0);
    const pending = await suggestions();
    expect(pending).toHaveLength(firstRun.created);
    expect(
      await count(
        `tag_suggestion s join customer_tag ct on ct.customer_id = s.customer_id and ct.tag_id = s.tag_id
         where s.status = 'PENDING'`,
      ),
    ).toBe(0);
    const data = await t.ok(
      `{ reviewQueue(first: 3) { totalCount edges { node {
          confidence threshold status source kind explanation { text cluster contributions { feature direction text } }
          cluster { label } modelVersion { version } customer { id tags { tag { key } } } tag { key }
        } } } }`,
      {},
      Role.REVIEWER,
    );
    expect(data.reviewQueue.totalCount).toBe(firstRun.created);
    for (const { node } of data.reviewQueue.edges) {
      expect(node.status).toBe('PENDING');
      expect(node.confidence).toBeGreaterThanOrEqual(node.threshold - 1e-6);
      expect(node.explanation.text.length).toBeGreaterThan(0);
      expect(node.cluster.label).toBe(node.explanation.cluster);
      expect(node.modelVersion.version).toBe(first.version);
      expect(node.customer.tags.map((x: any) => x.tag.key)).not.toContain(node.tag.key);
    }
  });

  it('proposes at most one tag per exclusive category, as a correction when another is held', async () => {
    expect(
      await count(
        `(select s.customer_id from tag_suggestion s join tag t on t.id = s.tag_id
          join tag_category c on c.id = t.category_id
          where s.status = 'PENDING' and c.exclusive group by s.customer_id, c.id having count(*) > 1) x`,
      ),
    ).toBe(0);
    const corrections = await t.sql<{ held: boolean; same: boolean }>(
      `select exists (select 1 from customer_tag ct where ct.customer_id = s.customer_id
                      and ct.tag_id = s.replaces_tag_id) as held,
              (select category_id from tag where id = s.replaces_tag_id) =
              (select category_id from tag where id = s.tag_id) as same
       from tag_suggestion s where s.kind = 'CORRECTION'`,
    );
    expect(corrections.length).toBe(firstRun.corrections);
    for (const c of corrections) expect(c).toEqual({ held: true, same: true });
    expect(
      await count(
        `tag_suggestion s where s.kind = 'ADD' and exists (
           select 1 from customer_tag ct join tag h on h.id = ct.tag_id
           join tag t on t.id = s.tag_id join tag_category c on c.id = t.category_id
           where ct.customer_id = s.customer_id and h.category_id = t.category_id and c.exclusive)`,
      ),
    ).toBe(0);
  });

  it('re-running the same model adds nothing', async () => {
    const again = await generateSuggestions(t.app.orm, { workers: 2 });
    expect(again.created).toBe(0);
    expect(again.alreadyPending).toBe(firstRun.created);
    expect(again.superseded).toBe(0);
  });

  it('a run whose scoring cannot start fails with the reason and changes nothing', async () => {
    const [active] = await t.sql<{ dir: string }>(
      `select artifact_path as dir from model_version where status = 'ACTIVE'`,
    );
    const weights = path.join(active!.dir, 'classifier', 'weights.bin');
    const before = await count('tag_suggestion');
    await fs.rename(weights, `${weights}.away`);
    try {
      // Before the fix this never settled: the candidate COPY waited for lines forever.
      await expect(generateSuggestions(t.app.orm, { workers: 2 })).rejects.toThrow(/weights\.bin/);
    } finally {
      await fs.rename(`${weights}.away`, weights);
    }
    expect(await count('tag_suggestion')).toBe(before);
    expect(await count(`pg_tables where tablename like 'suggestion_candidate_%'`)).toBe(0);
  });

  it("drops the candidate table a dead run left behind, and not a live run's", async () => {
    const abandoned = `${CANDIDATE_TABLE_PREFIX}abandoned000`;
    const live = `${CANDIDATE_TABLE_PREFIX}live00000000`;
    await t.sql(`create unlogged table ${abandoned} (x int)`);
    const other = new pg.Client({ connectionString: t.url });
    await other.connect();
    try {
      await other.query('select pg_advisory_lock($1, hashtext($2))', [CANDIDATE_LOCK_CLASS, live]);
      await other.query(`create unlogged table ${live} (x int)`);
      await generateSuggestions(t.app.orm, { workers: 1 });
      const left = await t.sql<{ name: string }>(
        `select tablename as name from pg_tables where starts_with(tablename, ?)`,
        [CANDIDATE_TABLE_PREFIX],
      );
      expect(left.map((r) => r.name)).toEqual([live]);
    } finally {
      await other.query(`drop table if exists ${live}`);
      await other.end();
    }
  });

  it('pages through every ordering without skipping or repeating, with counts per tag', async () => {
    for (const orderBy of [
      'MOST_UNCERTAIN',
      'HIGHEST_CONFIDENCE',
      'HIGHEST_CUSTOMER_VALUE',
      'OLDEST',
    ]) {
      const seen: any[] = [];
      let after: string | null = null;
      for (;;) {
        const data: any = await t.ok(
          `query($after: String, $orderBy: ReviewQueueOrder!) {
             reviewQueue(first: 200, after: $after, orderBy: $orderBy) {
               edges { node { id confidence threshold customerValue } }
               pageInfo { hasNextPage endCursor }
             } }`,
          { after, orderBy },
        );
        seen.push(...data.reviewQueue.edges.map((e: any) => e.node));
        if (!data.reviewQueue.pageInfo.hasNextPage) break;
        after = data.reviewQueue.pageInfo.endCursor;
      }
      expect(new Set(seen.map((s) => s.id)).size).toBe(firstRun.created);
      expect(seen).toHaveLength(firstRun.created);
      const key = (s: any) =>
        orderBy === 'MOST_UNCERTAIN'
          ? s.confidence - s.threshold
          : orderBy === 'HIGHEST_CONFIDENCE'
            ? -s.confidence
            : orderBy === 'HIGHEST_CUSTOMER_VALUE'
              ? -s.customerValue
              : Number(s.id);
      for (let i = 1; i < seen.length; i++) {
        expect(key(seen[i])).toBeGreaterThanOrEqual(key(seen[i - 1]) - 1e-6);
      }
    }
    const data = await t.ok(
      `query($tag: ID!) {
         all: reviewQueue(first: 1) { totalCount countsByTag { tag { key } count } }
         one: reviewQueue(first: 5, filter: { tagIds: [$tag], minConfidence: 0.5 }) {
           totalCount countsByTag { count } edges { node { confidence tag { key } } }
         } }`,
      { tag: tagId['low-value'] },
    );
    const byTag = Object.fromEntries(data.all.countsByTag.map((c: any) => [c.tag.key, c.count]));
    const expected = await t.sql<{ key: string; n: number }>(
      `select t.key, count(*)::int as n from tag_suggestion s join tag t on t.id = s.tag_id
       where s.status = 'PENDING' group by t.key`,
    );
    expect(byTag).toEqual(Object.fromEntries(expected.map((r) => [r.key, r.n])));
    expect(data.all.totalCount).toBe(firstRun.created);
    expect(data.one.totalCount).toBe(
      await count(`tag_suggestion where status = 'PENDING' and tag_id = ? and confidence >= 0.5`, [
        tagId['low-value'],
      ]),
    );
    for (const { node } of data.one.edges) {
      expect(node.tag.key).toBe('low-value');
      expect(node.confidence).toBeGreaterThanOrEqual(0.5);
    }
  });

  it('filters the queue by a saved segment', async () => {
    const created = await t.ok(
      `mutation { createSegment(input: { key: "south", name: "South China", text: "region = \\"South China\\"" }) { id } }`,
    );
    const data = await t.ok(
      `query($segment: ID!) { reviewQueue(first: 500, filter: { segmentId: $segment }) {
         totalCount edges { node { customer { region } } } } }`,
      { segment: created.createSegment.id },
    );
    const expected = await count(
      `tag_suggestion s join customer c on c.id = s.customer_id
       where s.status = 'PENDING' and c.region = 'South China'`,
    );
    expect(expected).toBeGreaterThan(0);
    expect(data.reviewQueue.totalCount).toBe(expected);
    for (const { node } of data.reviewQueue.edges) expect(node.customer.region).toBe('South China');
    const missing = await t.gql(`{ reviewQueue(filter: { segmentId: "999999" }) { totalCount } }`);
    expect(errorOf(missing)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.segmentId' });
  });

  it('serves a queue page of customers, tags and clusters in a constant number of statements', async () => {
    const query = `query($n: Int!) { reviewQueue(first: $n) { edges { node {
        id confidence explanation { text } tag { key category { key } } cluster { label }
        modelVersion { version } customer { id name tags { tag { key } } }
      } } } }`;
    const small = await t.countStatements(() => t.ok(query, { n: 5 }));
    const large = await t.countStatements(() => t.ok(query, { n: 50 }));
    expect(large.count).toBe(small.count);
    expect(large.count).toBeLessThanOrEqual(8);
  });

  it('approves: the tag is applied with source MODEL, logged in history and the review log', async () => {
    const s = await pendingOf('wine-lover');
    const data = await t.ok(APPROVE, { id: s.id, note: 'buys wine monthly' }, Role.REVIEWER);
    expect(data.approveSuggestion).toMatchObject({
      status: 'APPROVED',
      reviewedBy: `test-${Role.REVIEWER}`,
      reviewNote: 'buys wine monthly',
    });
    const [held] = await t.sql(
      `select source, confidence, model_version as "modelVersion", applied_by as "appliedBy"
       from customer_tag where customer_id = ? and tag_id = ?`,
      [s.customerId, s.tagId],
    );
    expect(held).toMatchObject({
      source: 'MODEL',
      modelVersion: first.version,
      appliedBy: `test-${Role.REVIEWER}`,
    });
    expect(held!.confidence).toBeCloseTo(s.confidence, 5);
    expect(
      await count(
        `tag_history where customer_id = ? and tag_id = ? and action = 'APPLIED' and source = 'MODEL'`,
        [s.customerId, s.tagId],
      ),
    ).toBe(1);
    const log = await t.sql(`select action, actor, note from review_log where suggestion_id = ?`, [
      s.id,
    ]);
    expect(log).toEqual([
      { action: 'APPROVED', actor: `test-${Role.REVIEWER}`, note: 'buys wine monthly' },
    ]);
    await expect(
      t.sql('update review_log set note = null where suggestion_id = ?', [s.id]),
    ).rejects.toThrow(/append-only/);
  });

  it('a correction suggestion replaces the held tag of its exclusive category when approved', async () => {
    const [s] = await t.sql<{
      id: string;
      customerId: string;
      tagId: string;
      replacesTagId: string;
    }>(
      `select id, customer_id as "customerId", tag_id as "tagId", replaces_tag_id as "replacesTagId"
       from tag_suggestion where status = 'PENDING' and kind = 'CORRECTION' order by id limit 1`,
    );
    await t.ok(APPROVE, { id: s!.id }, Role.REVIEWER);
    const held = await t.sql<{ tagId: string }>(
      `select tag_id as "tagId" from customer_tag where customer_id = ? and tag_id in (?, ?)`,
      [s!.customerId, s!.tagId, s!.replacesTagId],
    );
    expect(held).toEqual([{ tagId: s!.tagId }]);
    expect(
      await count(`tag_history where customer_id = ? and tag_id = ? and action = 'REPLACED'`, [
        s!.customerId,
        s!.replacesTagId,
      ]),
    ).toBe(1);
  });

  it('rejects: a negative label, no tag, and not re-suggested within the cooldown', async () => {
    const s = await pendingOf('normal-value');
    const data = await t.ok(REJECT, { id: s.id, reason: 'one big order' }, Role.REVIEWER);
    expect(data.rejectSuggestion).toMatchObject({
      status: 'REJECTED',
      reviewNote: 'one big order',
    });
    expect(
      await count('customer_tag where customer_id = ? and tag_id = ?', [s.customerId, s.tagId]),
    ).toBe(0);
    const again = await generateSuggestions(t.app.orm, { customerIds: [s.customerId] });
    expect(again.inCooldown).toBe(1);
    expect(
      await count(`tag_suggestion where customer_id = ? and tag_id = ? and status = 'PENDING'`, [
        s.customerId,
        s.tagId,
      ]),
    ).toBe(0);
    const afterCooldown = await generateSuggestions(t.app.orm, {
      customerIds: [s.customerId],
      cooldownDays: 0,
    });
    expect(afterCooldown.inCooldown).toBe(0);
    const [renewed] = await suggestions(
      `s.status = 'PENDING' and s.customer_id = ? and s.tag_id = ?`,
      [s.customerId, s.tagId],
    );
    expect(renewed).toBeDefined();
    await t.ok(REJECT, { id: renewed!.id, reason: 'still no' }, Role.REVIEWER);
  });

  it('corrects: applies the chosen tag of the same category and logs rejection and correction', async () => {
    const s = await pendingOf('high-value');
    const bad = await t.gql(
      CORRECT,
      { id: s.id, tagId: tagId['wine-lover'] },
      { as: Role.REVIEWER },
    );
    expect(errorOf(bad)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'tagId' });
    expect((await suggestions('s.id = ?', [s.id]))[0]!.status).toBe('PENDING');
    const data = await t.ok(
      CORRECT,
      { id: s.id, tagId: tagId['potential-value'], note: 'new customer, growing' },
      Role.REVIEWER,
    );
    expect(data.correctSuggestion).toMatchObject({
      status: 'CORRECTED',
      correctedTag: { key: 'potential-value' },
    });
    const held = await t.sql<{ key: string; source: string }>(
      `select t.key, ct.source from customer_tag ct join tag t on t.id = ct.tag_id
       join tag_category c on c.id = t.category_id where ct.customer_id = ? and c.key = 'value-tier'`,
      [s.customerId],
    );
    expect(held).toEqual([{ key: 'potential-value', source: 'MANUAL' }]);
    const log = await t.sql<{ action: string; tagId: string }>(
      `select action, tag_id as "tagId" from review_log where suggestion_id = ? order by id`,
      [s.id],
    );
    expect(log).toEqual([
      { action: 'REJECTED', tagId: s.tagId },
      { action: 'CORRECTED', tagId: tagId['potential-value'] },
    ]);
  });

  it('decides a suggestion exactly once under concurrent reviewers', async () => {
    const s = await pendingOf('low-value');
    const attempts = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        t.gql(i % 3 === 2 ? REJECT : APPROVE, { id: s.id }, { as: Role.REVIEWER }),
      ),
    );
    const won = attempts.filter((r) => !r.errors);
    expect(won).toHaveLength(1);
    for (const r of attempts.filter((r) => r.errors)) expect(errorOf(r).code).toBe('CONFLICT');
    expect(await count('review_log where suggestion_id = ?', [s.id])).toBe(1);
    const status = (await suggestions('s.id = ?', [s.id]))[0]!.status;
    expect(
      await count('customer_tag where customer_id = ? and tag_id = ?', [s.customerId, s.tagId]),
    ).toBe(status === 'APPROVED' ? 1 : 0);
    const late = await t.gql(APPROVE, { id: s.id }, { as: Role.REVIEWER });
    expect(errorOf(late).code).toBe('CONFLICT');
    expect(errorOf(await t.gql(APPROVE, { id: '999999' }, { as: Role.REVIEWER })).code).toBe(
      'NOT_FOUND',
    );
    expect(errorOf(await t.gql(APPROVE, { id: s.id }, { as: Role.VIEWER })).code).toBe('FORBIDDEN');
  });

  it('bulk-approves by filter after a dry run, skipping and reporting decided items', async () => {
    const filter = { tagIds: [tagId['wine-lover']], minConfidence: 0.5 };
    const expected = await count(
      `tag_suggestion where status = 'PENDING' and tag_id = ? and confidence >= 0.5`,
      [tagId['wine-lover']],
    );
    expect(expected).toBeGreaterThan(3);
    const before = await count('customer_tag');
    const dry = await t.ok(
      REVIEW,
      { input: { filter, decision: 'APPROVE', dryRun: true } },
      Role.REVIEWER,
    );
    expect(dry.reviewSuggestions).toMatchObject({
      dryRun: true,
      matched: expected,
      decided: expected,
    });
    expect(dry.reviewSuggestions.sample.length).toBe(Math.min(10, expected));
    expect(await count('customer_tag')).toBe(before);
    const done = await t.ok(
      REVIEW,
      { input: { filter, decision: 'APPROVE', note: 'bulk wine' } },
      Role.REVIEWER,
    );
    expect(done.reviewSuggestions).toMatchObject({
      dryRun: false,
      matched: expected,
      decided: expected,
    });
    expect(await count('customer_tag')).toBe(before + expected);
    expect(await count(`review_log where note = 'bulk wine' and bulk is not null`)).toBe(expected);

    const decided = await suggestions(`s.status = 'APPROVED' and t.key = 'wine-lover'`);
    const open = await pendingOf('normal-value');
    const mixed = await t.ok(
      REVIEW,
      { input: { ids: [decided[0]!.id, open.id], decision: 'REJECT', note: 'cleanup' } },
      Role.REVIEWER,
    );
    expect(mixed.reviewSuggestions).toMatchObject({
      matched: 2,
      decided: 1,
      skipped: [{ suggestionId: decided[0]!.id, status: 'APPROVED', reason: 'already decided' }],
    });
  });

  it('refuses bad bulk input naming the field, writing nothing', async () => {
    const open = await pendingOf('normal-value');
    const before = await count('review_log');
    const both = await t.gql(
      REVIEW,
      { input: { ids: [open.id], filter: {}, decision: 'APPROVE' } },
      { as: Role.REVIEWER },
    );
    expect(errorOf(both)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.ids' });
    const unknown = await t.gql(
      REVIEW,
      { input: { ids: [open.id, '999999'], decision: 'APPROVE' } },
      { as: Role.REVIEWER },
    );
    expect(errorOf(unknown)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.ids[1]' });
    const tooMany = await t.gql(
      REVIEW,
      { input: { filter: {}, decision: 'APPROVE', limit: 10_001 } },
      { as: Role.REVIEWER },
    );
    expect(errorOf(tooMany)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.limit' });
    expect(await count('review_log')).toBe(before);
    expect((await suggestions('s.id = ?', [open.id]))[0]!.status).toBe('PENDING');
  });

  it('computes online precision per model version and tag from decisions', async () => {
    const data = await t.ok(
      `{ modelVersions { edges { node { id onlinePrecision {
          tag { key } approved rejected corrected precision offlinePrecision } } } } }`,
      {},
    );
    const node = data.modelVersions.edges.find((e: any) => e.node.id === first.modelVersionId).node;
    const expected = await t.sql<{ key: string; a: number; r: number; c: number }>(
      `select t.key, count(*) filter (where s.status = 'APPROVED')::int as a,
              count(*) filter (where s.status = 'REJECTED')::int as r,
              count(*) filter (where s.status = 'CORRECTED')::int as c
       from tag_suggestion s join tag t on t.id = s.tag_id
       where s.model_version_id = ? and s.status in ('APPROVED', 'REJECTED', 'CORRECTED')
       group by t.key order by t.key`,
      [first.modelVersionId],
    );
    expect(expected.length).toBeGreaterThanOrEqual(3);
    for (const e of expected) {
      const p = node.onlinePrecision.find((x: any) => x.tag.key === e.key);
      expect(p).toMatchObject({ approved: e.a, rejected: e.r, corrected: e.c });
      expect(p.precision).toBeCloseTo(e.a / (e.a + e.r + e.c), 10);
    }
    const highValue = node.onlinePrecision.find((x: any) => x.tag.key === 'high-value');
    expect(highValue.corrected).toBe(1);
    const offline = first.metrics.find((m) => m.tag === 'high-value')!.precision;
    expect(highValue.offlinePrecision).toBe(offline);
  });

  it('a new model supersedes stale suggestions and auto-applies by policy, sampling some for review', async () => {
    const policy = await t.ok(
      `mutation($tag: ID!) { setAutoApplyPolicy(input: { tagId: $tag, threshold: 0.5, sampleRate: 0.5 }) {
          key autoApply { threshold sampleRate } } }`,
      { tag: tagId['low-value'] },
    );
    expect(policy.setAutoApplyPolicy.autoApply).toEqual({ threshold: 0.5, sampleRate: 0.5 });
    const forbidden = await t.gql(
      `mutation($tag: ID!) { setAutoApplyPolicy(input: { tagId: $tag, threshold: 0.9 }) { key } }`,
      { tag: tagId['low-value'] },
      { as: Role.REVIEWER },
    );
    expect(errorOf(forbidden).code).toBe('FORBIDDEN');

    const stale = await count(`tag_suggestion where status = 'PENDING'`);
    const second = await trainModels(t.app.orm, {
      seed: 8,
      modelsDir,
      maxEpochs: 40,
      targetPrecision: 0.4,
      tags: TAGS,
    });
    // Reviewer rejections so far are known negatives wherever the customer does not hold the
    // tag, and so training labels of the new model.
    const rejectedPairs = await t.sql<{ key: string; n: number }>(
      `select t.key, count(distinct s.customer_id)::int as n from tag_suggestion s
       join tag t on t.id = s.tag_id
       where s.status in ('REJECTED', 'CORRECTED') and not exists (
         select 1 from customer_tag ct where ct.customer_id = s.customer_id and ct.tag_id = s.tag_id)
       group by t.key order by t.key`,
    );
    expect(rejectedPairs.length).toBeGreaterThan(0);
    const reviewed = await t.sql<{ key: string; n: number }>(
      `select t.key, count(*)::int as n from tag_negative n join tag t on t.id = n.tag_id
       where n.source = 'REVIEW' and not exists (
         select 1 from customer_tag ct where ct.customer_id = n.customer_id and ct.tag_id = n.tag_id)
       group by t.key order by t.key`,
    );
    expect(reviewed).toEqual(rejectedPairs);
    const [summary] = await t.sql<{ s: any }>(
      'select training_summary as s from model_version where id = ?',
      [second.modelVersionId],
    );
    const negatives = Object.fromEntries(summary!.s.tags.map((x: any) => [x.key, x.negatives]));
    for (const r of rejectedPairs) expect(negatives[r.key]).toBeGreaterThanOrEqual(r.n);
    await new ModelRegistryService(t.app.orm.em.fork()).promote(second.modelVersionId);
    const run = await generateSuggestions(t.app.orm);
    expect(run.superseded).toBe(stale);
    expect(
      await count(`tag_suggestion where status = 'PENDING' and model_version_id <> ?`, [
        second.modelVersionId,
      ]),
    ).toBe(0);

    const auto = await suggestions(`s.auto_applied`);
    expect(auto.length).toBe(run.autoApplied + run.sampledForReview);
    expect(run.autoApplied).toBeGreaterThan(0);
    expect(run.sampledForReview).toBeGreaterThan(0);
    for (const s of auto) {
      expect(s.key).toBe('low-value');
      expect(s.confidence).toBeGreaterThanOrEqual(0.5);
      expect(['PENDING', 'AUTO_APPLIED']).toContain(s.status);
    }
    // The run applies the samples' tags too; that must not retire them from the queue.
    expect(auto.filter((s) => s.status === 'PENDING')).toHaveLength(run.sampledForReview);
    expect(
      await count(
        `tag_suggestion s join customer_tag ct on ct.customer_id = s.customer_id and ct.tag_id = s.tag_id
         where s.auto_applied and ct.source = 'MODEL' and ct.applied_by = 'auto-apply'`,
      ),
    ).toBe(auto.length);
    expect(await count(`review_log where action = 'AUTO_APPLIED'`)).toBe(auto.length);

    // Rejecting a quality sample takes the auto-applied tag away again.
    const sample = auto.find((s) => s.status === 'PENDING')!;
    const queued = await t.ok(
      `{ reviewQueue(first: 500, filter: { tagIds: ["${tagId['low-value']}"] }) { edges { node { id autoApplied } } } }`,
    );
    expect(queued.reviewQueue.edges.map((e: any) => e.node)).toContainEqual({
      id: sample.id,
      autoApplied: true,
    });
    await t.ok(REJECT, { id: sample.id, reason: 'not low value' }, Role.REVIEWER);
    expect(
      await count('customer_tag where customer_id = ? and tag_id = ?', [
        sample.customerId,
        sample.tagId,
      ]),
    ).toBe(0);
  });

  it('runs on the job queue from the API, reporting progress and counts', async () => {
    const data = await t.ok(
      `mutation { generateSuggestions(input: { cooldownDays: 30 }) { id status params } }`,
      {},
      Role.DATA_SCIENTIST,
    );
    expect(data.generateSuggestions).toMatchObject({
      status: 'QUEUED',
      params: { cooldownDays: 30 },
    });
    await t.app.queue.runSuggestions(data.generateSuggestions.id);
    const run = await t.ok(
      `query($id: ID!) { suggestionRun(id: $id) { status progress report error } }`,
      { id: data.generateSuggestions.id },
    );
    expect(run.suggestionRun).toMatchObject({ status: 'SUCCEEDED', error: null });
    expect(run.suggestionRun.report.customers).toBe(800);
    const denied = await t.gql(
      `mutation { generateSuggestions { id } }`,
      {},
      { as: Role.REVIEWER },
    );
    expect(errorOf(denied).code).toBe('FORBIDDEN');
  });

  it('proposes the mapped tag to the members of a cluster (source CLUSTER)', async () => {
    const [cluster] = await t.sql<{ id: string; label: string }>(
      `select c.id, c.label from cluster c join model_version mv on mv.id = c.model_version_id
       where mv.status = 'ACTIVE' order by c.size desc limit 1`,
    );
    await t.ok(
      `mutation($c: ID!, $t: ID!) { mapClusterToTag(clusterId: $c, tagId: $t) { id } }`,
      { c: cluster!.id, t: tagId['seafood-fan'] },
      Role.DATA_SCIENTIST,
    );
    const run = await generateSuggestions(t.app.orm, { tagIds: [tagId['seafood-fan']!] });
    expect(run.clusterCandidates).toBeGreaterThan(0);
    const rows = await t.sql<{
      text: string;
      cluster: string;
      member: boolean;
      confidence: number;
    }>(
      `select s.explanation ->> 'text' as text, s.explanation ->> 'cluster' as cluster,
              s.confidence, exists (select 1 from customer_cluster cc
                where cc.customer_id = s.customer_id and cc.cluster_id = ?) as member
       from tag_suggestion s where s.source = 'CLUSTER' and s.status = 'PENDING'`,
      [cluster!.id],
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r).toMatchObject({ member: true, cluster: cluster!.label });
      expect(r.text).toContain('Seafood fan');
      expect(r.confidence).toBeGreaterThanOrEqual(0.5);
    }
    // Never alongside the classifier's own suggestion for the same pair.
    expect(
      await count(
        `(select customer_id from tag_suggestion where status = 'PENDING' and tag_id = ?
          group by customer_id having count(*) > 1) x`,
        [tagId['seafood-fan']],
      ),
    ).toBe(0);
  });

  it('erases a deleted customer’s suggestions and review log', async () => {
    const [s] = await suggestions(`s.status = 'PENDING'`);
    expect(await count('tag_suggestion where customer_id = ?', [s!.customerId])).toBeGreaterThan(0);
    await t.sql('delete from customer where id = ?', [s!.customerId]);
    expect(await count('tag_suggestion where customer_id = ?', [s!.customerId])).toBe(0);
    expect(await count('review_log where customer_id = ?', [s!.customerId])).toBe(0);
  });
});
