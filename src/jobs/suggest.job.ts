import type { MikroORM } from '@mikro-orm/postgresql';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { InvalidInputError, NotFoundError } from '../modules/common/domain.errors.js';
import { bigintArray } from '../modules/common/sql.js';
import { FeatureRepository } from '../modules/feature/feature.repository.js';
import { ModelStatus, ModelVersion } from '../modules/model-registry/model-version.entity.js';
import { DEFAULT_COOLDOWN_DAYS } from '../modules/suggestion/suggestion.service.js';
import { AUTO_APPLY_ACTOR } from '../modules/tagging/label.repository.js';
import { assertCurrentFeatureSet } from './model-loader.js';
import { CANDIDATE_COLUMNS, loadScoringModel, scoreCustomers } from './scoring/index.js';

export interface SuggestOptions {
  /** Default: the ACTIVE version. */
  modelVersionId?: string | null;
  /** Default: every customer with features. */
  customerIds?: readonly string[] | null;
  /** Default: every suggestable tag the model knows. */
  tagIds?: readonly string[] | null;
  /** A tag a reviewer rejected for a customer is not proposed again for this many days. */
  cooldownDays?: number;
  runId?: string | null;
  workers?: number;
  onProgress?: (phase: string, done: number, total: number) => void;
  /** Aborts the run at its next step, up to the merge (a cancelled or lost run). */
  signal?: AbortSignal;
}

export interface SuggestReport {
  modelVersionId: string;
  modelVersion: string;
  customers: number;
  /** (customer, tag) pairs above threshold from the classifier, and from cluster mappings. */
  modelCandidates: number;
  clusterCandidates: number;
  created: number;
  corrections: number;
  autoApplied: number;
  /** Auto-applied, and sampled into the queue for quality control. */
  sampledForReview: number;
  alreadyHeld: number;
  inCooldown: number;
  /** Known not to hold the tag by a complete import. */
  knownNegative: number;
  /** Beaten by a more confident tag of the same exclusive category. */
  outranked: number;
  alreadyPending: number;
  superseded: number;
  backend: string;
  workers: number;
  ms: number;
  /** Wall time per step, to tell where a slow run went. */
  phaseMs: { scoring: number; clusters: number; supersede: number; merge: number };
}

/**
 * A scoring run: every customer in scope is scored by the model's workers straight into a COPY
 * of a temporary table, cluster mappings add their members, and a few set-based statements turn
 * the candidates into suggestions — skipping held tags, tags in their rejection cooldown and all
 * but the best tag of an exclusive category, proposing a correction where the customer holds
 * another tag of that category, superseding pending suggestions of older versions and
 * auto-applying per tag policy.
 */
export async function generateSuggestions(
  orm: MikroORM,
  options: SuggestOptions = {},
): Promise<SuggestReport> {
  const started = Date.now();
  const report = options.onProgress ?? (() => {});
  const progress: NonNullable<SuggestOptions['onProgress']> = (...args) => {
    options.signal?.throwIfAborted();
    report(...args);
  };
  const cooldownDays = options.cooldownDays ?? DEFAULT_COOLDOWN_DAYS;
  const em = orm.em.fork();
  const version = options.modelVersionId
    ? await em.findOne(ModelVersion, { id: options.modelVersionId })
    : await em.findOne(ModelVersion, { status: ModelStatus.ACTIVE });
  if (!version) {
    if (options.modelVersionId) throw new NotFoundError('ModelVersion', options.modelVersionId);
    throw new InvalidInputError(
      'modelVersionId',
      'there is no ACTIVE model version: train one and promote it (`tagwise train --promote`)',
    );
  }
  assertCurrentFeatureSet(version, await new FeatureRepository(em).loadFeatureSet());

  const connectionString = orm.config.get('clientUrl')!;
  const client = new pg.Client({ connectionString });
  await client.connect();
  // A real (unlogged) table, not a temporary one: the parallel inserts read it from a second
  // connection. Throw-away, so not worth the WAL.
  const candidates = `${CANDIDATE_TABLE_PREFIX}${randomBytes(6).toString('hex')}`;
  try {
    await client.query(`select pg_advisory_lock(${CANDIDATE_LOCK_CLASS}, hashtext($1))`, [
      candidates,
    ]);
    await dropAbandonedCandidateTables(client);
    await client.query(`set work_mem = '256MB'`);
    const model = await loadScoringModel(client, version.id);
    await client.query(
      `create unlogged table ${candidates} (
         customer_id bigint not null, tag_id bigint not null, confidence real not null,
         threshold real not null, cluster_id bigint, customer_value real, explanation jsonb,
         source text not null default 'MODEL')`,
    );
    const phaseMs = { scoring: 0, clusters: 0, supersede: 0, merge: 0 };
    let mark = Date.now();
    const lap = (phase: keyof typeof phaseMs) => {
      phaseMs[phase] = Date.now() - mark;
      mark = Date.now();
    };
    progress('scoring', 0, 1);
    const scored = await scoreCustomers(
      {
        connectionString,
        model,
        ...(options.customerIds ? { customerIds: sortIds(options.customerIds) } : {}),
        ...(options.workers ? { workers: options.workers } : {}),
        onProgress: (done, total) => progress('scoring', done, total),
      },
      client.query(copyFrom(`copy ${candidates} (${CANDIDATE_COLUMNS.join(', ')}) from stdin`)),
    );

    lap('scoring');
    // The last point a cancellation stops the run: from here on it writes suggestions.
    progress('merging', 0, 1);
    // One run merges at a time; two would both supersede and insert around each other. A session
    // lock, because the merge spans several transactions (released when the connection ends).
    await client.query(`select pg_advisory_lock(hashtext('suggestion_generation'))`);
    const scope = options.customerIds ? bigintArray(sortIds(options.customerIds)) : null;
    const tagScope = options.tagIds?.length ? bigintArray([...options.tagIds]) : null;
    const cluster = await client.query(
      `insert into ${candidates}
         (customer_id, tag_id, confidence, threshold, cluster_id, customer_value, explanation, source)
       select cc.customer_id, cl.tag_id,
              -- The core of a segment is surer than its edge: 1 at the centroid, 0.5 at the rim.
              1 - 0.5 * percent_rank() over (partition by cl.id order by cc.distance),
              0.5, cl.id, coalesce((cf.values ->> $3)::real, 0),
              jsonb_build_object('text', format('in segment "%s", which is mapped to "%s"', cl.label, t.name),
                'cluster', cl.label, 'contributions', '[]'::jsonb),
              'CLUSTER'
       from customer_cluster cc
       join cluster cl on cl.id = cc.cluster_id and cl.tag_id is not null
       join tag t on t.id = cl.tag_id
       left join customer_features cf on cf.customer_id = cc.customer_id
       where cc.model_version_id = $1 and ($2::bigint[] is null or cc.customer_id = any($2::bigint[]))`,
      [version.id, scope, model.valueFeature ?? ''],
    );
    // The candidates' statistics steer the joins below (hash joins, not a million index probes).
    await client.query(`analyze ${candidates}`);
    lap('clusters');
    const superseded = await client.query(
      `update tag_suggestion s set status = 'SUPERSEDED', reviewed_at = now()
       where s.status = 'PENDING' and not s.auto_applied and s.model_version_id <> $1
         and ($2::bigint[] is null or s.customer_id = any($2::bigint[]))
         and ($3::bigint[] is null or s.tag_id = any($3::bigint[]))`,
      [version.id, scope, tagScope],
    );
    lap('supersede');
    // Halves by customer, picked and inserted in parallel on two connections: index upkeep for a
    // million rows is most of a run's merge, and the scoring workers have released both cores by
    // now. Every rule of the pick is per customer, so the halves never need each other's rows.
    // Id ranges, not `id % 2`: the planner estimates a range from statistics, but a modulo as
    // 0.5 % of the rows, and then probes indexes a million times instead of hashing.
    const { rows: range } = await client.query<{ lo: string | null; hi: string | null }>(
      `select min(customer_id)::text as lo, (max(customer_id) + 1)::text as hi from ${candidates}`,
    );
    const lo = BigInt(range[0]!.lo ?? 0);
    const hi = BigInt(range[0]!.hi ?? 0);
    const bounds = [lo, lo + (hi - lo) / 2n, hi].map(String);
    const insertPart = (connection: pg.ClientBase, part: number) =>
      connection.query<Record<string, number>>(
        `with cand as (
         ${
           // The scorer writes each pair once; only cluster mappings can repeat one, and then
           // the classifier's opinion wins.
           cluster.rowCount
             ? `select distinct on (s.customer_id, s.tag_id) s.* from ${candidates} s
                where s.customer_id >= $5 and s.customer_id < $6
                order by s.customer_id, s.tag_id, (s.source = 'MODEL') desc, s.confidence desc`
             : `select * from ${candidates} s where s.customer_id >= $5 and s.customer_id < $6`
         }
       ),
       eligible as (
         select cand.*, t.category_id, cat.exclusive, t.auto_apply_threshold, t.auto_apply_sample_rate
         from cand
         join tag t on t.id = cand.tag_id and t.status = 'ACTIVE'
         join tag_category cat on cat.id = t.category_id and cat.suggestable
         where $7::bigint[] is null or cand.tag_id = any($7::bigint[])
       ),
       -- Joins, not per-row subqueries: hash joins over a million candidates instead of three
       -- index probes each.
       held as (
         select ct.customer_id, ct.tag_id, h.category_id
         from customer_tag ct join tag h on h.id = ct.tag_id
         where ct.customer_id >= $5 and ct.customer_id < $6 ${scope ? 'and ct.customer_id = any($9::bigint[])' : ''}
       ),
       cooling as (
         select distinct customer_id, tag_id from tag_suggestion
         where status in ('REJECTED', 'CORRECTED') and reviewed_at > now() - make_interval(days => $8)
           and customer_id >= $5 and customer_id < $6
       ),
       -- A complete import said the customer does not hold it: a fact, not a question.
       denied as (
         select customer_id, tag_id from tag_negative
         where source = 'IMPORT' and customer_id >= $5 and customer_id < $6
       ),
       pick as (
         select e.*, h.tag_id is not null as held, c.tag_id is not null as cooling,
           d.tag_id is not null as denied,
           x.tag_id as replaces_tag_id,
           -- In an exclusive category only the model's best pick counts: if that is the tag the
           -- customer already holds, the model is not asking for a change.
           case when e.exclusive
             then row_number() over (partition by e.customer_id, e.category_id
                                     order by e.confidence desc, e.tag_id)
             else 1 end as rank
         from eligible e
         left join held h on h.customer_id = e.customer_id and h.tag_id = e.tag_id
         left join cooling c on c.customer_id = e.customer_id and c.tag_id = e.tag_id
         left join denied d on d.customer_id = e.customer_id and d.tag_id = e.tag_id
         -- An exclusive category holds at most one tag per customer, so this adds no rows.
         left join held x on e.exclusive and x.customer_id = e.customer_id
           and x.category_id = e.category_id and x.tag_id <> e.tag_id
       ),
       picked as (
         select p.*,
           p.replaces_tag_id is null and p.auto_apply_threshold is not null
             and p.confidence >= p.auto_apply_threshold as auto,
           -- A hash, not random(): the same run samples the same suggestions.
           (hashtext(p.customer_id::text || ':' || p.tag_id::text)::bigint & 65535) / 65536.0
             < p.auto_apply_sample_rate as sampled
         from pick p
         where p.rank = 1 and not p.held and not p.cooling and not p.denied
       ),
       inserted as (
         insert into tag_suggestion (customer_id, tag_id, source, kind, replaces_tag_id, confidence,
           threshold, margin, customer_value, model_version_id, cluster_id, explanation, status,
           auto_applied, run_id, reviewed_by, reviewed_at)
         select customer_id, tag_id, source,
           case when replaces_tag_id is null then 'ADD' else 'CORRECTION' end, replaces_tag_id,
           confidence, threshold, abs(confidence - threshold), coalesce(customer_value, 0), $1,
           cluster_id, coalesce(explanation, '{"text": ""}'::jsonb),
           case when auto and not sampled then 'AUTO_APPLIED' else 'PENDING' end,
           auto, $2,
           case when auto and not sampled then $4 end,
           case when auto and not sampled then now() end
         from picked
         on conflict (customer_id, tag_id) where status = 'PENDING' do nothing
         returning id, customer_id, tag_id, kind, status, auto_applied, confidence, model_version_id
       ),
       -- The queue's per-tag counts; no insert trigger does this (see the migration).
       tallied as (
         insert into suggestion_tally (tag_id, status, n)
         select tag_id, status, count(*) from inserted group by tag_id, status
         returning 1
       ),
       applied as (
         insert into customer_tag (customer_id, tag_id, source, confidence, model_version, applied_by, note)
         select customer_id, tag_id, 'MODEL', confidence, $3, $4,
                'auto-applied: confidence above the tag''s auto-apply threshold'
         from inserted where auto_applied
         on conflict do nothing
         returning *
       ),
       history as (
         insert into tag_history (customer_id, tag_id, action, source, after, actor, note)
         select customer_id, tag_id, 'APPLIED', source,
                jsonb_build_object('source', source, 'confidence', confidence,
                  'modelVersion', model_version, 'appliedBy', applied_by,
                  'appliedAt', applied_at, 'note', note),
                applied_by, note
         from applied returning 1
       ),
       logged as (
         insert into review_log (suggestion_id, customer_id, tag_id, action, confidence, model_version_id, actor, note)
         select id, customer_id, tag_id, 'AUTO_APPLIED', confidence, model_version_id, $4,
                case when status = 'PENDING' then 'sampled for quality review' end
         from inserted where auto_applied returning 1
       )
       select
         (select count(*) from inserted)::int as created,
         (select count(*) from inserted where kind = 'CORRECTION')::int as corrections,
         (select count(*) from inserted where status = 'AUTO_APPLIED')::int as "autoApplied",
         (select count(*) from inserted where auto_applied and status = 'PENDING')::int as "sampledForReview",
         (select count(*) from picked)::int as picked,
         (select count(*) from history)::int as "historyRows",
         (select count(*) from logged)::int as "logRows",
         (select count(*) filter (where rank = 1 and held) from pick)::int as "alreadyHeld",
         (select count(*) filter (where rank = 1 and not held and cooling) from pick)::int as "inCooldown",
         (select count(*) filter (where rank = 1 and not held and not cooling and denied) from pick)::int as "knownNegative",
         (select count(*) filter (where rank > 1) from pick)::int as outranked`,
        [
          version.id,
          options.runId ?? null,
          version.version,
          AUTO_APPLY_ACTOR,
          bounds[part],
          bounds[part + 1],
          tagScope,
          cooldownDays,
          ...(scope ? [scope] : []),
        ],
      );
    const second = new pg.Client({ connectionString });
    await second.connect();
    let results: Record<string, number>[];
    const halves = [client, second];
    try {
      await Promise.all(halves.map((connection) => connection.query('begin')));
      // Both halves commit only once both have inserted: a failure in either leaves nothing, and
      // a process killed between the two commits (a moment) leaves a half that a retry tops up
      // without doubles (one PENDING suggestion per customer and tag; held tags are skipped).
      results = await Promise.all(
        halves.map(async (connection, part) => (await insertPart(connection, part)).rows[0]!),
      );
      await Promise.all(halves.map((connection) => connection.query('commit')));
    } catch (error) {
      await Promise.all(halves.map((connection) => connection.query('rollback').catch(() => {})));
      throw error;
    } finally {
      await second.end();
    }
    const counts: Record<string, number> = {};
    for (const part of results) {
      for (const [key, value] of Object.entries(part)) counts[key] = (counts[key] ?? 0) + value;
    }
    lap('merge');
    progress('merging', 1, 1);
    return {
      modelVersionId: version.id,
      modelVersion: version.version,
      customers: scored.customers,
      modelCandidates: scored.candidates,
      clusterCandidates: cluster.rowCount ?? 0,
      created: counts.created!,
      corrections: counts.corrections!,
      autoApplied: counts.autoApplied!,
      sampledForReview: counts.sampledForReview!,
      alreadyHeld: counts.alreadyHeld!,
      inCooldown: counts.inCooldown!,
      knownNegative: counts.knownNegative!,
      outranked: counts.outranked!,
      alreadyPending: counts.picked! - counts.created!,
      superseded: superseded.rowCount ?? 0,
      backend: scored.backend,
      workers: scored.workers,
      ms: Date.now() - started,
      phaseMs,
    };
  } finally {
    await client.query(`drop table if exists ${candidates}`).catch(() => {});
    await client.end();
  }
}

export const CANDIDATE_TABLE_PREFIX = 'suggestion_candidate_';
/** Advisory lock class of candidate tables: a run holds (class, hash of its table) throughout. */
export const CANDIDATE_LOCK_CLASS = 7041;

/**
 * Drops the candidate tables of runs that died without their `finally` (a killed process, a lost
 * connection): a run holds its table's advisory lock for as long as its session lives, so a
 * table whose lock can be taken has no run left.
 */
async function dropAbandonedCandidateTables(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `select tablename as name from pg_tables
     where schemaname = current_schema() and starts_with(tablename, $1)`,
    [CANDIDATE_TABLE_PREFIX],
  );
  for (const { name } of rows) {
    const lock = [CANDIDATE_LOCK_CLASS, name];
    const { rows: taken } = await client.query<{ ok: boolean }>(
      'select pg_try_advisory_lock($1, hashtext($2)) as ok',
      lock,
    );
    if (!taken[0]!.ok) continue;
    try {
      await client.query(`drop table if exists ${client.escapeIdentifier(name)}`);
    } finally {
      await client.query('select pg_advisory_unlock($1, hashtext($2))', lock);
    }
  }
}

function sortIds(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : a === b ? 0 : 1));
}
