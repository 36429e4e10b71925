import type { EntityManager } from '@mikro-orm/postgresql';
import { bigintArray, numberArray, parseTimestamp, textArray } from '../common/sql.js';
import type { CategoryRecord, TagRecord } from '../taxonomy/taxonomy.loaders.js';
import type { TagSource } from './customer-tag.entity.js';
import type { AssignmentSnapshot, TagAction } from './tag-history.entity.js';

/** The jsonb snapshot of a customer_tag row stored in tag_history.before / after. */
export function snapshotSql(alias: string): string {
  return `jsonb_build_object('source', ${alias}.source, 'confidence', ${alias}.confidence,
    'modelVersion', ${alias}.model_version, 'appliedBy', ${alias}.applied_by,
    'appliedAt', ${alias}.applied_at, 'note', ${alias}.note)`;
}

/** A tag as carried with its category, so neither needs another query. */
export interface TagWithCategory extends TagRecord {
  category: CategoryRecord;
}

export interface AppliedTagRow {
  customerId: string;
  tag: TagWithCategory;
  source: TagSource;
  confidence: number | null;
  modelVersion: string | null;
  appliedBy: string | null;
  appliedAt: Date;
  note: string | null;
}

interface AppliedTagColumns extends TagRecord {
  cKey: string;
  cName: string;
  cDescription: string | null;
  cKind: CategoryRecord['kind'];
  cParentId: string | null;
  cExclusive: boolean;
  cSuggestable: boolean;
  cCreatedAt: Date;
  cUpdatedAt: Date;
  customerId: string;
  source: TagSource;
  confidence: number | null;
  modelVersion: string | null;
  appliedBy: string | null;
  appliedAt: Date;
  assignmentNote: string | null;
}

export interface TagHistoryRow {
  id: string;
  customerId: string;
  tagId: string;
  action: TagAction;
  source: TagSource;
  relatedTagId: string | null;
  before: AssignmentSnapshot | null;
  after: AssignmentSnapshot | null;
  actor: string | null;
  note: string | null;
  occurredAt: Date;
}

export interface Attribution {
  source: TagSource;
  actor: string | null;
  note: string | null;
  confidence: number | null;
  modelVersion: string | null;
}

export interface TagPairs {
  customerIds: readonly string[];
  tagIds: readonly string[];
}

export interface TagForApply {
  id: string;
  key: string;
  status: string;
  categoryId: string;
  categoryKey: string;
  exclusive: boolean;
}

/** Set-based statements over customer_tag and tag_history. Callers own the transaction. */
export class TaggingRepository {
  constructor(private readonly em: EntityManager) {}

  /** Share-locks the tags so a concurrent merge or deprecation waits for this write. */
  lockTags(tagIds: string[]): Promise<TagForApply[]> {
    return this.em.execute<TagForApply[]>(
      `select t.id, t.key, t.status, t.category_id as "categoryId", c.key as "categoryKey", c.exclusive
       from tag t join tag_category c on c.id = t.category_id
       where t.id = any(?::bigint[]) order by t.id for share of t`,
      [bigintArray(tagIds)],
    );
  }

  /**
   * Locks the customers' rows (in id order, so concurrent calls cannot deadlock): exclusive
   * categories are enforced by delete-then-insert, which two writers must not interleave.
   */
  async lockCustomers(customerIds: string[]): Promise<string[]> {
    const rows = await this.em.execute<{ id: string }[]>(
      `select id from customer where id = any(?::bigint[]) order by id for no key update`,
      [bigintArray(customerIds)],
    );
    return rows.map((r) => r.id);
  }

  /** Removes other tags of the exclusive categories of `tagIds`; logs them as REPLACED. */
  async replaceExclusive(
    customerIds: string[],
    tagIds: string[],
    by: Attribution,
  ): Promise<number> {
    const [row] = await this.em.execute<{ n: number }[]>(
      `with incoming as (
         select t.id, t.category_id from tag t join tag_category c on c.id = t.category_id
         where t.id = any(?::bigint[]) and c.exclusive
       ),
       removed as (
         delete from customer_tag ct using tag held, incoming
         where ct.customer_id = any(?::bigint[]) and held.id = ct.tag_id
           and held.category_id = incoming.category_id and ct.tag_id <> incoming.id
         returning ct.*, incoming.id as replaced_by
       ),
       logged as (
         insert into tag_history (customer_id, tag_id, action, source, related_tag_id, before, actor, note)
         select customer_id, tag_id, 'REPLACED', ?, replaced_by, ${snapshotSql('removed')}, ?, ?
         from removed returning 1
       )
       select count(*)::int as n from logged`,
      [bigintArray(tagIds), bigintArray(customerIds), by.source, by.actor, by.note],
    );
    return row!.n;
  }

  /** Inserts the missing (customer, tag) pairs and logs each as APPLIED. */
  async insertAssignments(
    customerIds: string[],
    tagIds: string[],
    by: Attribution,
  ): Promise<number> {
    const [row] = await this.em.execute<{ n: number }[]>(
      `with inserted as (
         insert into customer_tag (customer_id, tag_id, source, confidence, model_version, applied_by, note)
         select c.id, t.id, ?, ?, ?, ?, ?
         from unnest(?::bigint[]) as c(id) cross join unnest(?::bigint[]) as t(id)
         on conflict do nothing
         returning *
       ),
       logged as (
         insert into tag_history (customer_id, tag_id, action, source, after, actor, note)
         select customer_id, tag_id, 'APPLIED', source, ${snapshotSql('inserted')}, applied_by, note
         from inserted returning 1
       )
       select count(*)::int as n from logged`,
      [
        by.source,
        by.confidence,
        by.modelVersion,
        by.actor,
        by.note,
        bigintArray(customerIds),
        bigintArray(tagIds),
      ],
    );
    return row!.n;
  }

  /** Deletes the held pairs and logs each as REMOVED. */
  async deleteAssignments(
    customerIds: string[],
    tagIds: string[],
    by: Attribution,
  ): Promise<number> {
    const [row] = await this.em.execute<{ n: number }[]>(
      `with removed as (
         delete from customer_tag
         where customer_id = any(?::bigint[]) and tag_id = any(?::bigint[])
         returning *
       ),
       logged as (
         insert into tag_history (customer_id, tag_id, action, source, before, actor, note)
         select customer_id, tag_id, 'REMOVED', ?, ${snapshotSql('removed')}, ?, ?
         from removed returning 1
       )
       select count(*)::int as n from logged`,
      [bigintArray(customerIds), bigintArray(tagIds), by.source, by.actor, by.note],
    );
    return row!.n;
  }

  /**
   * Pairwise counterparts of the three writes above, for review decisions where every customer
   * gets its own tag: pair i is (customerIds[i], tagIds[i]). Callers lock the customers first and
   * pass at most one tag per customer and exclusive category.
   */
  async replaceExclusivePairs(pairs: TagPairs, by: Attribution): Promise<number> {
    const [row] = await this.em.execute<{ n: number }[]>(
      `with incoming as (
         select p.customer_id, p.tag_id, t.category_id
         from unnest(?::bigint[], ?::bigint[]) as p(customer_id, tag_id)
         join tag t on t.id = p.tag_id join tag_category c on c.id = t.category_id
         where c.exclusive
       ),
       removed as (
         delete from customer_tag ct using tag held, incoming i
         where ct.customer_id = i.customer_id and held.id = ct.tag_id
           and held.category_id = i.category_id and ct.tag_id <> i.tag_id
         returning ct.*, i.tag_id as replaced_by
       ),
       logged as (
         insert into tag_history (customer_id, tag_id, action, source, related_tag_id, before, actor, note)
         select customer_id, tag_id, 'REPLACED', ?, replaced_by, ${snapshotSql('removed')}, ?, ?
         from removed returning 1
       )
       select count(*)::int as n from logged`,
      [bigintArray(pairs.customerIds), bigintArray(pairs.tagIds), by.source, by.actor, by.note],
    );
    return row!.n;
  }

  async insertPairs(
    pairs: TagPairs & { confidences: (number | null)[]; modelVersions: (string | null)[] },
    by: Omit<Attribution, 'confidence' | 'modelVersion'>,
  ): Promise<number> {
    const [row] = await this.em.execute<{ n: number }[]>(
      `with inserted as (
         insert into customer_tag (customer_id, tag_id, source, confidence, model_version, applied_by, note)
         select p.customer_id, p.tag_id, ?, p.confidence, p.model_version, ?, ?
         from unnest(?::bigint[], ?::bigint[], ?::real[], ?::text[])
           as p(customer_id, tag_id, confidence, model_version)
         on conflict do nothing
         returning *
       ),
       logged as (
         insert into tag_history (customer_id, tag_id, action, source, after, actor, note)
         select customer_id, tag_id, 'APPLIED', source, ${snapshotSql('inserted')}, applied_by, note
         from inserted returning 1
       )
       select count(*)::int as n from logged`,
      [
        by.source,
        by.actor,
        by.note,
        bigintArray(pairs.customerIds),
        bigintArray(pairs.tagIds),
        numberArray(pairs.confidences),
        textArray(pairs.modelVersions),
      ],
    );
    return row!.n;
  }

  async deletePairs(pairs: TagPairs, by: Attribution): Promise<number> {
    const [row] = await this.em.execute<{ n: number }[]>(
      `with removed as (
         delete from customer_tag ct
         using unnest(?::bigint[], ?::bigint[]) as p(customer_id, tag_id)
         where ct.customer_id = p.customer_id and ct.tag_id = p.tag_id
         returning ct.*
       ),
       logged as (
         insert into tag_history (customer_id, tag_id, action, source, before, actor, note)
         select customer_id, tag_id, 'REMOVED', ?, ${snapshotSql('removed')}, ?, ?
         from removed returning 1
       )
       select count(*)::int as n from logged`,
      [bigintArray(pairs.customerIds), bigintArray(pairs.tagIds), by.source, by.actor, by.note],
    );
    return row!.n;
  }

  /** `hiddenTagIds`: a `{…}` literal of tags the reader may not see (TaxonomyVisibility). */
  async findTagsByCustomerIds(
    customerIds: readonly string[],
    hiddenTagIds = '{}',
  ): Promise<AppliedTagRow[]> {
    const rows = await this.em.execute<AppliedTagColumns[]>(
      `select t.id, t.key, t.name, t.description, t.color, t.category_id as "categoryId", t.status,
              t.learn_from_rules as "learnFromRules", t.merged_into_id as "mergedIntoId",
              t.deprecated_at as "deprecatedAt",
              t.created_at as "createdAt", t.updated_at as "updatedAt",
              c.key as "cKey", c.name as "cName", c.description as "cDescription", c.kind as "cKind",
              c.parent_id as "cParentId", c.exclusive as "cExclusive", c.suggestable as "cSuggestable",
              c.created_at as "cCreatedAt", c.updated_at as "cUpdatedAt",
              ct.customer_id as "customerId", ct.source, ct.confidence, ct.model_version as "modelVersion",
              ct.applied_by as "appliedBy", ct.applied_at as "appliedAt", ct.note as "assignmentNote"
       from customer_tag ct
       join tag t on t.id = ct.tag_id
       join tag_category c on c.id = t.category_id
       where ct.customer_id = any(?::bigint[]) and not ct.tag_id = any(?::bigint[])
       order by ct.customer_id, t.name`,
      [bigintArray(customerIds), hiddenTagIds],
    );
    // Customers share tags and tags share categories: build each object once per query.
    const categories = new Map<string, CategoryRecord>();
    const tags = new Map<string, TagWithCategory>();
    return rows.map((r) => {
      let tag = tags.get(r.id);
      if (!tag) {
        let category = categories.get(r.categoryId);
        if (!category) {
          category = {
            id: r.categoryId,
            key: r.cKey,
            name: r.cName,
            description: r.cDescription,
            kind: r.cKind,
            parentId: r.cParentId,
            exclusive: r.cExclusive,
            suggestable: r.cSuggestable,
            createdAt: parseTimestamp(r.cCreatedAt),
            updatedAt: parseTimestamp(r.cUpdatedAt),
          };
          categories.set(r.categoryId, category);
        }
        tag = {
          id: r.id,
          key: r.key,
          name: r.name,
          description: r.description,
          color: r.color,
          categoryId: r.categoryId,
          status: r.status,
          learnFromRules: r.learnFromRules,
          mergedIntoId: r.mergedIntoId,
          deprecatedAt: parseTimestamp(r.deprecatedAt),
          createdAt: parseTimestamp(r.createdAt),
          updatedAt: parseTimestamp(r.updatedAt),
          category,
        };
        tags.set(r.id, tag);
      }
      return {
        customerId: r.customerId,
        tag,
        source: r.source,
        confidence: r.confidence,
        modelVersion: r.modelVersion,
        appliedBy: r.appliedBy,
        appliedAt: parseTimestamp(r.appliedAt),
        note: r.assignmentNote,
      };
    });
  }

  /** Newest first; one statement for many customers (a lateral page each). */
  async findHistory(
    customerIds: readonly string[],
    first: number,
    beforeId: string | null,
    hiddenTagIds = '{}',
  ): Promise<TagHistoryRow[]> {
    const rows = await this.em.execute<TagHistoryRow[]>(
      `select h.id, h.customer_id as "customerId", h.tag_id as "tagId", h.action, h.source,
              h.related_tag_id as "relatedTagId", h.before, h.after, h.actor, h.note, h.occurred_at as "occurredAt"
       from unnest(?::bigint[]) as c(id)
       cross join lateral (
         select * from tag_history
         where customer_id = c.id and (?::bigint is null or id < ?::bigint)
           and not tag_id = any(?::bigint[])
         order by id desc limit ?
       ) h`,
      [bigintArray(customerIds), beforeId, beforeId, hiddenTagIds, first + 1],
    );
    return rows.map((r) => ({ ...r, occurredAt: parseTimestamp(r.occurredAt) }));
  }
}
