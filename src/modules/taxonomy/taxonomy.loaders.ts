import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { bigintArray } from '../common/sql.js';
import { TagCategory } from './tag-category.entity.js';
import { Tag } from './tag.entity.js';
import type { TaxonomyVisibility } from './visibility.js';

/** A tag as read models carry it: the entity's columns without ORM behaviour. */
export type TagRecord = Pick<
  Tag,
  | 'id'
  | 'key'
  | 'name'
  | 'description'
  | 'color'
  | 'categoryId'
  | 'status'
  | 'learnFromRules'
  | 'mergedIntoId'
  | 'deprecatedAt'
  | 'createdAt'
  | 'updatedAt'
>;

export type CategoryRecord = Pick<
  TagCategory,
  | 'id'
  | 'key'
  | 'name'
  | 'description'
  | 'kind'
  | 'parentId'
  | 'exclusive'
  | 'suggestable'
  | 'createdAt'
  | 'updatedAt'
>;

function alignById<T extends { id: string }>(keys: readonly string[], rows: T[]): (T | null)[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return keys.map((k) => byId.get(k) ?? null);
}

/**
 * Hidden tags and categories load as null, as absent ones do: a path that forgot to drop them
 * fails closed (a null where the schema promises a tag is an error, not a leak).
 */
export function createTaxonomyLoaders(em: EntityManager, visibility: TaxonomyVisibility) {
  return {
    tagById: new DataLoader<string, Tag | null>(async (ids) => {
      const { tagIds } = await visibility.hiddenTaxonomy();
      return alignById(ids, await em.find(Tag, { id: { $in: [...ids], $nin: tagIds } }));
    }),
    tagCategoryById: new DataLoader<string, TagCategory | null>(async (ids) => {
      const { categoryIds } = await visibility.hiddenTaxonomy();
      return alignById(
        ids,
        await em.find(TagCategory, { id: { $in: [...ids], $nin: categoryIds } }),
      );
    }),
    tagsByCategoryId: new DataLoader<string, Tag[]>(async (ids) => {
      const { tagIds } = await visibility.hiddenTaxonomy();
      const tags = await em.find(
        Tag,
        { categoryId: { $in: [...ids] }, id: { $nin: tagIds } },
        { orderBy: { name: 'asc' } },
      );
      return ids.map((id) => tags.filter((t) => t.categoryId === id));
    }),
    customerCountByTagId: new DataLoader<string, number>(async (ids) => {
      const rows = await em.execute<{ tagId: string; n: number }[]>(
        `select tag_id as "tagId", count(*)::int as n from customer_tag
         where tag_id = any(?::bigint[]) group by tag_id`,
        [bigintArray(ids)],
      );
      const counts = new Map(rows.map((r) => [r.tagId, r.n]));
      return ids.map((id) => counts.get(id) ?? 0);
    }),
  };
}
