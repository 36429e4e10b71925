import DataLoader from 'dataloader';
import { groupBy } from '../common/collections.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  decodeIdCursor,
  encodeIdCursor,
  toPage,
  type Page,
  type PageRequest,
} from '../common/pagination.js';
import type { TaxonomyVisibility } from '../taxonomy/visibility.js';
import { LabelRepository, type TagLabelCounts } from './label.repository.js';
import { TaggingRepository, type AppliedTagRow, type TagHistoryRow } from './tagging.repository.js';

export interface HistoryKey {
  customerId: string;
  first: number;
  beforeId: string | null;
}

export function createTaggingLoaders(em: EntityManager, visibility: TaxonomyVisibility) {
  const repository = new TaggingRepository(em);
  return {
    /** One statement however many tags ask. */
    labelCountsByTagId: new DataLoader<string, TagLabelCounts>((ids) =>
      new LabelRepository(em).countsByTagId(ids),
    ),
    tagsByCustomerId: new DataLoader<string, AppliedTagRow[]>(async (ids) => {
      const hidden = await visibility.hiddenTagIds();
      const byCustomer = groupBy(
        await repository.findTagsByCustomerIds(ids, hidden),
        (r) => r.customerId,
      );
      return ids.map((id) => byCustomer.get(id) ?? []);
    }),
    /** One statement per distinct page shape, however many customers ask. */
    historyByCustomerId: new DataLoader<HistoryKey, TagHistoryRow[], string>(
      async (keys) => {
        const results = new Map<string, TagHistoryRow[]>();
        const hidden = await visibility.hiddenTagIds();
        for (const group of groupBy(keys, (k) => `${k.first}:${k.beforeId}`).values()) {
          const { first, beforeId } = group[0]!;
          const rows = await repository.findHistory(
            group.map((k) => k.customerId),
            first,
            beforeId,
            hidden,
          );
          for (const [customerId, list] of groupBy(rows, (r) => r.customerId)) {
            results.set(`${customerId}:${first}:${beforeId}`, list);
          }
        }
        return keys.map((k) => results.get(`${k.customerId}:${k.first}:${k.beforeId}`) ?? []);
      },
      { cacheKeyFn: (k) => `${k.customerId}:${k.first}:${k.beforeId}` },
    ),
  };
}

/** A page of one customer's history through the batching loader; counts only on demand. */
export async function loadHistoryPage(
  loaders: { historyByCustomerId: DataLoader<HistoryKey, TagHistoryRow[], string> },
  em: EntityManager,
  visibility: TaxonomyVisibility,
  customerId: string,
  page: PageRequest,
): Promise<Page<TagHistoryRow>> {
  const beforeId = decodeIdCursor(page.after);
  const rows = await loaders.historyByCustomerId.load({ customerId, first: page.first, beforeId });
  return toPage(rows, page.first, encodeIdCursor, async () => {
    const [row] = await em.execute<{ n: number }[]>(
      'select count(*)::int as n from tag_history where customer_id = ? and not tag_id = any(?::bigint[])',
      [customerId, await visibility.hiddenTagIds()],
    );
    return row!.n;
  });
}
