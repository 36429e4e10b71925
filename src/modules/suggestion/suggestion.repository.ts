import type { EntityManager } from '@mikro-orm/postgresql';
import { bigintArray, parseTimestamp, textArray } from '../common/sql.js';
import {
  SuggestionStatus as SuggestionStatusValues,
  type ReviewAction,
  type SuggestionExplanation,
  type SuggestionKind,
  type SuggestionSource,
  type SuggestionStatus,
} from './suggestion.entity.js';

/** A suggestion as read models carry it: plain columns, no ORM behaviour. */
export interface SuggestionRecord {
  id: string;
  customerId: string;
  tagId: string;
  source: SuggestionSource;
  kind: SuggestionKind;
  replacesTagId: string | null;
  confidence: number;
  threshold: number;
  margin: number;
  customerValue: number;
  modelVersionId: string;
  clusterId: string | null;
  explanation: SuggestionExplanation;
  status: SuggestionStatus;
  autoApplied: boolean;
  createdAt: Date;
  reviewedBy: string | null;
  reviewedAt: Date | null;
  reviewNote: string | null;
  correctedTagId: string | null;
}

const COLUMNS = `s.id, s.customer_id as "customerId", s.tag_id as "tagId", s.source, s.kind,
  s.replaces_tag_id as "replacesTagId", s.confidence, s.threshold, s.margin,
  s.customer_value as "customerValue", s.model_version_id as "modelVersionId",
  s.cluster_id as "clusterId", s.explanation, s.status, s.auto_applied as "autoApplied",
  s.created_at as "createdAt", s.reviewed_by as "reviewedBy", s.reviewed_at as "reviewedAt",
  s.review_note as "reviewNote", s.corrected_tag_id as "correctedTagId"`;

function toRecord(row: SuggestionRecord): SuggestionRecord {
  row.createdAt = parseTimestamp(row.createdAt);
  row.reviewedAt = parseTimestamp(row.reviewedAt);
  return row;
}

/** Ids are validated before they get here; every value is a bind parameter. */
export interface QueueFilter {
  statuses: SuggestionStatus[];
  tagIds?: string[];
  categoryIds?: string[];
  minConfidence?: number | null;
  maxConfidence?: number | null;
  modelVersionId?: string | null;
  clusterId?: string | null;
  customerId?: string | null;
  sources?: SuggestionSource[];
  kinds?: SuggestionKind[];
  createdFrom?: Date | null;
  createdTo?: Date | null;
  /** A compiled segment condition over customer alias `c`. */
  segment?: { sql: string; params: unknown[] } | null;
  /** Tags the reader may not see (TaxonomyVisibility): never matched. */
  hiddenTagIds?: readonly string[];
}

export enum QueueOrder {
  /** Closest to the tag's threshold first: the decisions that teach the model most. */
  MOST_UNCERTAIN = 'MOST_UNCERTAIN',
  HIGHEST_CONFIDENCE = 'HIGHEST_CONFIDENCE',
  HIGHEST_CUSTOMER_VALUE = 'HIGHEST_CUSTOMER_VALUE',
  OLDEST = 'OLDEST',
}

/** Sort key columns and direction per ordering; each has a matching (status, key, id) index. */
export const ORDERINGS: Record<
  QueueOrder,
  { key: string | null; field: keyof SuggestionRecord | null; desc: boolean }
> = {
  [QueueOrder.MOST_UNCERTAIN]: { key: 's.margin', field: 'margin', desc: false },
  [QueueOrder.HIGHEST_CONFIDENCE]: { key: 's.confidence', field: 'confidence', desc: true },
  [QueueOrder.HIGHEST_CUSTOMER_VALUE]: {
    key: 's.customer_value',
    field: 'customerValue',
    desc: true,
  },
  [QueueOrder.OLDEST]: { key: null, field: null, desc: false },
};

export interface ClaimedSuggestion {
  id: string;
  customerId: string;
  tagId: string;
  status: SuggestionStatus;
  confidence: number;
  modelVersionId: string;
  modelVersion: string;
  autoApplied: boolean;
  categoryId: string;
  exclusive: boolean;
  tagStatus: string;
  reviewedBy: string | null;
  reviewedAt: Date | null;
}

export type ClaimSelector = { ids: readonly string[] } | { filter: QueueFilter; limit: number };

export interface ReviewEntry {
  suggestionId: string;
  tagId: string;
  action: ReviewAction;
}

export interface TagPrecisionRow {
  modelVersionId: string;
  tagId: string;
  approved: number;
  rejected: number;
  corrected: number;
}

const COMPACT_TALLY_AFTER = 500;

const STATUSES = new Set<string>(Object.values(SuggestionStatusValues));

function statusLiteral(status: SuggestionStatus): string {
  if (!STATUSES.has(status)) throw new Error(`not a suggestion status: ${status}`);
  return `'${status}'`;
}

export class SuggestionRepository {
  constructor(private readonly em: EntityManager) {}

  /** The filter as SQL over `tag_suggestion s` (and `customer c` when a segment is given). */
  where(filter: QueueFilter): { sql: string; params: unknown[] } {
    const clauses: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, ...values: unknown[]) => {
      clauses.push(sql);
      params.push(...values);
    };
    // Statuses are inlined, not bound: the queue indexes are partial (status = 'PENDING'), and
    // a generic plan for `status = $1` could not use them.
    clauses.push(
      filter.statuses.length === 1
        ? `s.status = ${statusLiteral(filter.statuses[0]!)}`
        : `s.status in (${filter.statuses.map(statusLiteral).join(', ')})`,
    );
    if (filter.tagIds?.length) add('s.tag_id = any(?::bigint[])', bigintArray(filter.tagIds));
    if (filter.hiddenTagIds?.length) {
      add('not s.tag_id = any(?::bigint[])', bigintArray(filter.hiddenTagIds));
    }
    if (filter.categoryIds?.length) {
      add(
        's.tag_id in (select id from tag where category_id = any(?::bigint[]))',
        bigintArray(filter.categoryIds),
      );
    }
    if (filter.minConfidence != null) add('s.confidence >= ?', filter.minConfidence);
    if (filter.maxConfidence != null) add('s.confidence <= ?', filter.maxConfidence);
    if (filter.modelVersionId) add('s.model_version_id = ?', filter.modelVersionId);
    if (filter.clusterId) add('s.cluster_id = ?', filter.clusterId);
    if (filter.customerId) add('s.customer_id = ?', filter.customerId);
    if (filter.sources?.length) add('s.source = any(?::text[])', textArray(filter.sources));
    if (filter.kinds?.length) add('s.kind = any(?::text[])', textArray(filter.kinds));
    if (filter.createdFrom) add('s.created_at >= ?', filter.createdFrom);
    if (filter.createdTo) add('s.created_at < ?', filter.createdTo);
    if (filter.segment) {
      add(
        `exists (select 1 from customer c where c.id = s.customer_id and ${filter.segment.sql})`,
        ...filter.segment.params,
      );
    }
    return { sql: clauses.join(' and '), params };
  }

  /** One page in the given order, `first + 1` rows so the caller knows whether more follow. */
  async findPage(
    filter: QueueFilter,
    order: QueueOrder,
    first: number,
    after: { key: number | null; id: string } | null,
  ): Promise<SuggestionRecord[]> {
    const { key, desc } = ORDERINGS[order];
    const where = this.where(filter);
    const op = desc ? '<' : '>';
    const direction = desc ? 'desc' : 'asc';
    let keyset = '';
    const params = [...where.params];
    if (after) {
      if (key) {
        keyset = `and (${key}, s.id) ${op} (?::real, ?::bigint)`;
        params.push(after.key, after.id);
      } else {
        keyset = `and s.id ${op} ?::bigint`;
        params.push(after.id);
      }
    }
    const orderBy = key ? `${key} ${direction}, s.id ${direction}` : `s.id ${direction}`;
    const rows = await this.em.execute<SuggestionRecord[]>(
      `select ${COLUMNS} from tag_suggestion s
       where ${where.sql} ${keyset}
       order by ${orderBy} limit ?`,
      [...params, first + 1],
    );
    return rows.map(toRecord);
  }

  async findByIds(ids: readonly string[]): Promise<SuggestionRecord[]> {
    const rows = await this.em.execute<SuggestionRecord[]>(
      `select ${COLUMNS} from tag_suggestion s where s.id = any(?::bigint[])`,
      [bigintArray(ids)],
    );
    return rows.map(toRecord);
  }

  async findByCustomerIds(
    customerIds: readonly string[],
    statuses: SuggestionStatus[],
  ): Promise<SuggestionRecord[]> {
    const rows = await this.em.execute<SuggestionRecord[]>(
      `select ${COLUMNS} from tag_suggestion s
       where s.customer_id = any(?::bigint[]) and s.status in (${statuses.map(statusLiteral).join(', ')})
       order by s.customer_id, s.confidence desc, s.id`,
      [bigintArray(customerIds)],
    );
    return rows.map(toRecord);
  }

  /**
   * Counts per tag. A filter on status (and tags) alone is answered from the trigger-kept tallies,
   * so a queue of a million pending suggestions counts in a few rows; anything else counts rows.
   */
  async countByTag(filter: QueueFilter): Promise<Map<string, number>> {
    const onlyStatusAndTag = Object.entries(filter).every(
      ([k, v]) =>
        k === 'statuses' ||
        k === 'tagIds' ||
        k === 'hiddenTagIds' ||
        v == null ||
        (Array.isArray(v) && v.length === 0),
    );
    let rows: { tagId: string; n: string }[];
    if (onlyStatusAndTag) {
      await this.compactTallies();
      rows = await this.em.execute(
        `select tag_id as "tagId", sum(n)::text as n from suggestion_tally
         where status = any(?::text[]) ${filter.tagIds?.length ? 'and tag_id = any(?::bigint[])' : ''}
         group by tag_id having sum(n) <> 0`,
        [
          textArray(filter.statuses),
          ...(filter.tagIds?.length ? [bigintArray(filter.tagIds)] : []),
        ],
      );
    } else {
      const where = this.where(filter);
      rows = await this.em.execute(
        `select s.tag_id as "tagId", count(*)::text as n from tag_suggestion s
         where ${where.sql} group by s.tag_id`,
        where.params,
      );
    }
    // The tallies know nothing of visibility: hidden tags drop out here (the row path excludes
    // them in SQL already).
    const hidden = new Set(filter.hiddenTagIds);
    return new Map(rows.filter((r) => !hidden.has(r.tagId)).map((r) => [r.tagId, Number(r.n)]));
  }

  /** Suggestions waiting for review, from the tallies: a few rows, however long the queue. */
  async pendingTotal(): Promise<number> {
    const [row] = await this.em.execute<{ n: string }[]>(
      `select coalesce(sum(n), 0)::text as n from suggestion_tally where status = 'PENDING'`,
    );
    return Number(row!.n);
  }

  /** Folds the delta rows into one per (tag, status) once they pile up. */
  private async compactTallies(): Promise<void> {
    const [row] = await this.em.execute<{ n: number }[]>(
      'select count(*)::int as n from suggestion_tally',
    );
    if (row!.n <= COMPACT_TALLY_AFTER) return;
    // Each delta row is deleted by exactly one compaction, so concurrent ones stay correct.
    await this.em.execute(
      `with folded as (delete from suggestion_tally returning tag_id, status, n)
       insert into suggestion_tally (tag_id, status, n)
       select tag_id, status, sum(n) from folded group by tag_id, status having sum(n) <> 0`,
    );
  }

  /**
   * Locks the chosen suggestions (in id order, so concurrent deciders cannot deadlock) and returns
   * them with what a decision needs. By ids every row comes back whatever its status, so the
   * caller can report the decided ones; by filter only PENDING rows do — PostgreSQL re-checks the
   * status after waiting for a concurrent decision's lock, so a row decided meanwhile drops out.
   * A dry run reads the same rows without locking them.
   */
  async claim(
    selector: ClaimSelector,
    { lock }: { lock: boolean } = { lock: true },
  ): Promise<ClaimedSuggestion[]> {
    let where: string;
    let params: unknown[];
    let limit = '';
    if ('ids' in selector) {
      where = 's.id = any(?::bigint[])';
      params = [bigintArray(selector.ids)];
    } else {
      const w = this.where({ ...selector.filter, statuses: ['PENDING' as SuggestionStatus] });
      where = w.sql;
      params = w.params;
      limit = `limit ${Math.floor(selector.limit)}`;
    }
    const rows = await this.em.execute<ClaimedSuggestion[]>(
      `select s.id, s.customer_id as "customerId", s.tag_id as "tagId", s.status, s.confidence,
              s.model_version_id as "modelVersionId", mv.version as "modelVersion",
              s.auto_applied as "autoApplied", t.category_id as "categoryId", cat.exclusive,
              t.status as "tagStatus", s.reviewed_by as "reviewedBy", s.reviewed_at as "reviewedAt"
       from tag_suggestion s
       join tag t on t.id = s.tag_id
       join tag_category cat on cat.id = t.category_id
       join model_version mv on mv.id = s.model_version_id
       where ${where}
       order by s.id ${limit}
       ${lock ? 'for update of s' : ''}`,
      params,
    );
    return rows.map((r) => ({ ...r, reviewedAt: parseTimestamp(r.reviewedAt) }));
  }

  /**
   * Records a decision with the label it makes, in one statement: a rejection or correction makes
   * the suggested tag a known negative for the customer (source REVIEW), and an approval or
   * correction drops a reviewer's negative for the tag the customer now holds. Every decision
   * passes here, so none goes unlabelled. A negative already known keeps its origin (an import
   * or the first reviewer to say so).
   */
  async markDecided(
    ids: readonly string[],
    status: SuggestionStatus,
    actor: string | null,
    note: string | null,
    correctedTagId: string | null = null,
  ): Promise<void> {
    await this.em.execute(
      `with decided as (
         update tag_suggestion set status = ?, reviewed_by = ?, reviewed_at = now(),
           review_note = ?, corrected_tag_id = ?
         where id = any(?::bigint[])
         returning customer_id, tag_id, status, reviewed_by, corrected_tag_id
       ),
       negative as (
         insert into tag_negative (customer_id, tag_id, source, actor)
         select customer_id, tag_id, 'REVIEW', reviewed_by from decided
         where status in ('REJECTED', 'CORRECTED')
         on conflict do nothing
       )
       delete from tag_negative n using decided d
       where n.source = 'REVIEW' and n.customer_id = d.customer_id
         and n.tag_id = case d.status when 'APPROVED' then d.tag_id
                                      when 'CORRECTED' then d.corrected_tag_id end`,
      [status, actor, note, correctedTagId, bigintArray(ids)],
    );
  }

  /** Appends to the review log; the suggestion supplies customer, confidence and model version. */
  async log(
    entries: readonly ReviewEntry[],
    actor: string | null,
    note: string | null,
    bulk: Record<string, unknown> | null,
  ): Promise<void> {
    if (entries.length === 0) return;
    await this.em.execute(
      `insert into review_log (suggestion_id, customer_id, tag_id, action, confidence, model_version_id, actor, note, bulk)
       select s.id, s.customer_id, e.tag_id, e.action, s.confidence, s.model_version_id, ?, ?, ?::jsonb
       from unnest(?::bigint[], ?::bigint[], ?::text[]) as e(suggestion_id, tag_id, action)
       join tag_suggestion s on s.id = e.suggestion_id`,
      [
        actor,
        note,
        bulk ? JSON.stringify(bulk) : null,
        bigintArray(entries.map((e) => e.suggestionId)),
        bigintArray(entries.map((e) => e.tagId)),
        textArray(entries.map((e) => e.action)),
      ],
    );
  }

  async reviewLog(suggestionIds: readonly string[]) {
    return this.em.execute<
      {
        id: string;
        suggestionId: string;
        tagId: string;
        action: ReviewAction;
        actor: string | null;
        note: string | null;
        occurredAt: Date;
      }[]
    >(
      `select id, suggestion_id as "suggestionId", tag_id as "tagId", action, actor, note,
              occurred_at as "occurredAt"
       from review_log where suggestion_id = any(?::bigint[]) order by id`,
      [bigintArray(suggestionIds)],
    );
  }

  /** Reviewer decisions per model version and tag: the inputs of online precision. */
  async decisionCounts(modelVersionIds: readonly string[]): Promise<TagPrecisionRow[]> {
    return this.em.execute<TagPrecisionRow[]>(
      `select model_version_id as "modelVersionId", tag_id as "tagId",
              count(*) filter (where status = 'APPROVED')::int as approved,
              count(*) filter (where status = 'REJECTED')::int as rejected,
              count(*) filter (where status = 'CORRECTED')::int as corrected
       from tag_suggestion
       where model_version_id = any(?::bigint[]) and status in ('APPROVED', 'REJECTED', 'CORRECTED')
       group by model_version_id, tag_id
       order by model_version_id, tag_id`,
      [bigintArray(modelVersionIds)],
    );
  }

  /**
   * Of `customerIds`, how many do not exist and the first of them in the list's order: one
   * statement for a scoring run's thousands of ids.
   */
  async missingCustomers(
    customerIds: readonly string[],
  ): Promise<{ first: string | null; count: number }> {
    const [row] = await this.em.execute<{ first: string | null; count: number }[]>(
      `select (array_agg(u.id order by u.n))[1]::text as first, count(*)::int as count
       from unnest(?::bigint[]) with ordinality as u(id, n)
       where not exists (select 1 from customer c where c.id = u.id)`,
      [bigintArray(customerIds)],
    );
    return row!;
  }

  /** The tags of `tagIds` outside `hiddenTagIds`, with what a scoring run needs of them. */
  async tagsForScoring(
    tagIds: readonly string[],
    hiddenTagIds: readonly string[],
  ): Promise<
    { id: string; key: string; status: string; categoryKey: string; suggestable: boolean }[]
  > {
    return this.em.execute(
      `select t.id::text as id, t.key, t.status, c.key as "categoryKey", c.suggestable
       from tag t join tag_category c on c.id = t.category_id
       where t.id = any(?::bigint[]) and not t.id = any(?::bigint[])`,
      [bigintArray(tagIds), bigintArray(hiddenTagIds)],
    );
  }
}
