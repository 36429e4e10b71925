import type { EntityManager } from '@mikro-orm/postgresql';
import { bigintArray } from '../common/sql.js';

/** applied_by of tags the auto-apply policy applied: model output nobody looked at. */
export const AUTO_APPLY_ACTOR = 'auto-apply';

/**
 * Whether a held tag (`ct`, of tag `t`) is a label: a person put it there (by hand, by import, by
 * approving a suggestion), or a rule did and the tag says rules are labels. Auto-applied tags are
 * the model's own output; learning from them would only teach it back its mistakes.
 */
export function labelHoldingSql(ct: string, t: string): string {
  return `(${ct}.source in ('MANUAL', 'IMPORT')
    or (${ct}.source = 'MODEL' and ${ct}.applied_by is distinct from '${AUTO_APPLY_ACTOR}')
    or (${ct}.source in ('RULE', 'TRIGGER') and ${t}.learn_from_rules))`;
}

/** Why a customer is a known negative for a tag; see knownLabelsSql. */
export type NegativeKind = 'EXCLUSIVE' | 'IMPORT' | 'REVIEW';

/**
 * The known labels of the tags in `$tags` (a bigint[] parameter), one row per (customer, tag):
 * `positive` when the customer holds the tag as a label; else a negative of `kind` — holding
 * another tag of the same exclusive category as a label (EXCLUSIVE), or an explicit negative
 * from a complete import or a reviewer (tag_negative). A holding wins over any negative: it is
 * what the customer has now. Customers without a row are unlabelled for the tag.
 */
function knownLabelsSql(tags: string): string {
  return `with target as (
      select t.id, t.category_id, c.exclusive
      from tag t join tag_category c on c.id = t.category_id
      where t.id = any(${tags}::bigint[])
    ),
    labelled as (
      select ct.customer_id, ct.tag_id, t.category_id
      from customer_tag ct join tag t on t.id = ct.tag_id
      where t.category_id in (select category_id from target) and ${labelHoldingSql('ct', 't')}
    ),
    known as (
      select customer_id, tag_id, 0 as rank, null::text as kind
      from labelled where tag_id in (select id from target)
      union all
      select l.customer_id, x.id, 1, 'EXCLUSIVE'
      from labelled l join target x on x.exclusive and x.category_id = l.category_id and x.id <> l.tag_id
      union all
      select n.customer_id, n.tag_id, case n.source when 'IMPORT' then 2 else 3 end, n.source
      from tag_negative n where n.tag_id in (select id from target)
    )
    select distinct on (customer_id, tag_id) customer_id, tag_id, kind
    from known order by customer_id, tag_id, rank`;
}

export interface TagLabelCounts {
  tagId: string;
  positives: number;
  negatives: number;
  unlabelled: number;
}

export interface TagLabels {
  tagId: string;
  /** Customer ids (bigint text) that hold the tag as a label. */
  positives: string[];
  /** Known negatives by why they are known. */
  negatives: Record<NegativeKind, string[]>;
}

/** Known labels per tag: set-based in PostgreSQL, one statement however many tags. */
export class LabelRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Positives, known negatives and unlabelled customers per tag, aligned to `tagIds`; a tag
   * nobody labelled has every customer unlabelled.
   */
  async countsByTagId(tagIds: readonly string[]): Promise<TagLabelCounts[]> {
    if (tagIds.length === 0) return [];
    const [rows, [total]] = await Promise.all([
      this.em.execute<{ tagId: string; positives: number; negatives: number }[]>(
        `select tag_id::text as "tagId", count(*) filter (where kind is null)::int as positives,
                count(*) filter (where kind is not null)::int as negatives
         from (${knownLabelsSql('?')}) labels group by tag_id`,
        [bigintArray(tagIds)],
      ),
      // The per-statement tallies the customer count uses; counting rows would scan the table.
      this.em.execute<{ n: number }[]>(
        `select coalesce(sum(n), 0)::int as n from customer_count_delta`,
      ),
    ]);
    const byTag = new Map(rows.map((r) => [r.tagId, r]));
    return tagIds.map((tagId) => {
      const { positives = 0, negatives = 0 } = byTag.get(tagId) ?? {};
      return { tagId, positives, negatives, unlabelled: total!.n - positives - negatives };
    });
  }

  /** Every known label of the tags, for training. */
  async labelsByTagId(tagIds: readonly string[]): Promise<TagLabels[]> {
    if (tagIds.length === 0) return [];
    const rows = await this.em.execute<
      { tagId: string; kind: NegativeKind | null; customers: string[] }[]
    >(
      `select tag_id::text as "tagId", kind, array_agg(customer_id::text) as customers
       from (${knownLabelsSql('?')}) labels group by tag_id, kind`,
      [bigintArray(tagIds)],
    );
    return tagIds.map((tagId) => {
      const mine = rows.filter((r) => r.tagId === tagId);
      const of = (kind: NegativeKind | null) => mine.find((r) => r.kind === kind)?.customers ?? [];
      return {
        tagId,
        positives: of(null),
        negatives: { EXCLUSIVE: of('EXCLUSIVE'), IMPORT: of('IMPORT'), REVIEW: of('REVIEW') },
      };
    });
  }
}
