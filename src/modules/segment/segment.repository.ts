import type { EntityManager } from '@mikro-orm/postgresql';
import {
  CUSTOMER_COLUMNS,
  withDates,
  type CustomerRecord,
} from '../customer/customer.repository.js';
import { bigintArray } from '../common/sql.js';
import { FeatureRepository } from '../feature/feature.repository.js';
import {
  compileCondition,
  conditionReferences,
  inlineSegments,
  numericFeatureNames,
  type SegmentResolver,
  type CompiledCondition,
  type Condition,
  type ConditionSchema,
} from './condition/index.js';
import { TaxonomyVisibility } from '../taxonomy/visibility.js';
import { Segment } from './segment.entity.js';

/** Everything a condition is validated and compiled against, read once per request or run. */
export interface ConditionEnvironment {
  schema: ConditionSchema;
  featureSetVersion: number;
  /** Visible saved segments by key. */
  segments: Map<string, Segment>;
  /** Saved segments naming a tag or category hidden from the reader. */
  hiddenSegmentIds: string[];
  /** Whether a condition (segments expanded) names only tags and categories the reader sees. */
  visible(condition: Condition): boolean;
  compile(condition: Condition): CompiledCondition;
}

/** Whether a condition, its segments expanded, names only these tags and categories. */
function namesOnly(
  condition: Condition,
  resolve: SegmentResolver,
  tagKeys: ReadonlySet<string>,
  categoryKeys: ReadonlySet<string>,
): boolean {
  let refs: ReturnType<typeof conditionReferences>;
  try {
    refs = conditionReferences(inlineSegments(condition, resolve));
  } catch {
    // A definition that no longer expands cannot be shown to be harmless: treat it as hidden.
    return false;
  }
  return (
    [...refs.tags].every((k) => tagKeys.has(k)) &&
    [...refs.categories].every((k) => categoryKeys.has(k))
  );
}

/** A compiled condition labelled with whose it is, for the batched membership queries. */
export interface LabelledCondition {
  id: string;
  compiled: CompiledCondition;
}

export class SegmentRepository {
  constructor(private readonly em: EntityManager) {}

  findAll(): Promise<Segment[]> {
    return this.em.find(Segment, {}, { orderBy: { id: 'asc' } });
  }

  /**
   * Tag and category keys, numeric features of the current set and saved segments: 4 reads. With
   * a restricted visibility, hidden tags and categories are unknown names, and so are saved
   * segments that name one (directly or through other segments): to that reader they do not
   * exist, and category tests count only visible tags.
   */
  async loadEnvironment(
    visibility = TaxonomyVisibility.unrestricted(this.em),
  ): Promise<ConditionEnvironment> {
    const hidden = await visibility.hiddenTaxonomy();
    // One after the other: inside a transaction they share one connection.
    const tags = await this.em.execute<{ id: string; key: string }[]>('select id, key from tag');
    const categories = await this.em.execute<{ id: string; key: string }[]>(
      'select id, key from tag_category',
    );
    const set = await new FeatureRepository(this.em).loadFeatureSet();
    const segments = await this.findAll();
    const hiddenTags = new Set(hidden.tagIds);
    const hiddenCategories = new Set(hidden.categoryIds);
    const tagKeys = new Set(tags.filter((t) => !hiddenTags.has(String(t.id))).map((t) => t.key));
    const categoryKeys = new Set(
      categories.filter((c) => !hiddenCategories.has(String(c.id))).map((c) => c.key),
    );
    const all = new Map(segments.map((s) => [s.key, s]));
    const hiddenSegmentIds: string[] = [];
    if (hidden.tagIds.length + hidden.categoryIds.length > 0) {
      for (const segment of segments) {
        if (
          !namesOnly(segment.definition, (key) => all.get(key)?.definition, tagKeys, categoryKeys)
        ) {
          hiddenSegmentIds.push(segment.id);
          all.delete(segment.key);
        }
      }
    }
    const byKey = all;
    const resolveSegment = (key: string) => byKey.get(key)?.definition;
    const hiddenTagIds = bigintArray(hidden.tagIds);
    return {
      schema: { tagKeys, categoryKeys, featureNames: numericFeatureNames(set), resolveSegment },
      featureSetVersion: set.version,
      segments: byKey,
      hiddenSegmentIds,
      visible: (condition) => namesOnly(condition, resolveSegment, tagKeys, categoryKeys),
      compile: (condition) =>
        compileCondition(condition, {
          featureSetVersion: set.version,
          resolveSegment,
          hiddenTagIds,
        }),
    };
  }

  async count({ sql, params }: CompiledCondition): Promise<number> {
    const [row] = await this.em.execute<{ n: number }[]>(
      `select count(*)::int as n from customer c where ${sql}`,
      params,
    );
    return row!.n;
  }

  /** Members in id order after `afterId`, `limit` of them. */
  async members(
    { sql, params }: CompiledCondition,
    limit: number,
    afterId: string | null,
  ): Promise<CustomerRecord[]> {
    const rows = await this.em.execute<CustomerRecord[]>(
      `select ${CUSTOMER_COLUMNS} from customer c
       where ${sql} and (?::bigint is null or c.id > ?::bigint)
       order by c.id limit ?`,
      [...params, afterId, afterId, limit],
    );
    return rows.map(withDates);
  }

  /**
   * Which of the conditions each customer satisfies: one statement for any number of customers
   * and conditions, a UNION ALL of each condition restricted to the customers (an index probe on
   * the primary key, then the condition on those few rows).
   */
  async matchingPairs(
    conditions: readonly LabelledCondition[],
    customerIds: readonly string[],
  ): Promise<{ id: string; customerId: string }[]> {
    if (conditions.length === 0 || customerIds.length === 0) return [];
    const ids = bigintArray(customerIds);
    const params: unknown[] = [];
    const parts = conditions.map(({ id, compiled }) => {
      params.push(id, ids, ...compiled.params);
      return `select ?::bigint as id, c.id as "customerId" from customer c
              where c.id = any(?::bigint[]) and ${compiled.sql}`;
    });
    return this.em.execute(parts.join('\nunion all\n'), params as never[]);
  }

  /** Sizes of many conditions in one statement. */
  async counts(conditions: readonly LabelledCondition[]): Promise<Map<string, number>> {
    if (conditions.length === 0) return new Map();
    const params: unknown[] = [];
    const parts = conditions.map(({ id, compiled }) => {
      params.push(id, ...compiled.params);
      return `select ?::bigint as id, count(*)::int as n from customer c where ${compiled.sql}`;
    });
    const rows = await this.em.execute<{ id: string; n: number }[]>(
      parts.join('\nunion all\n'),
      params as never[],
    );
    return new Map(rows.map((r) => [String(r.id), r.n]));
  }
}
