import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { groupBy } from '../common/collections.js';
import type { TaxonomyVisibility } from '../taxonomy/visibility.js';
import type { Segment } from './segment.entity.js';
import { SegmentRepository, type ConditionEnvironment } from './segment.repository.js';

export function createSegmentLoaders(em: EntityManager, visibility: TaxonomyVisibility) {
  const repository = new SegmentRepository(em);
  // Read on first use, once per request; hidden segments are not in it.
  let loaded: Promise<ConditionEnvironment> | null = null;
  const environment = () => (loaded ??= repository.loadEnvironment(visibility));
  return {
    /**
     * The saved segments each customer belongs to: one statement for a page of customers and all
     * segments (see SegmentRepository.matchingPairs), after the request's one environment read.
     */
    segmentsByCustomerId: new DataLoader<string, Segment[]>(async (customerIds) => {
      const { segments, compile } = await environment();
      const byId = new Map([...segments.values()].map((s) => [s.id, s]));
      const pairs = await repository.matchingPairs(
        [...byId.values()].map((s) => ({ id: s.id, compiled: compile(s.definition) })),
        customerIds,
      );
      const byCustomer = groupBy(pairs, (p) => String(p.customerId));
      return customerIds.map((id) =>
        (byCustomer.get(id) ?? [])
          .map((p) => byId.get(String(p.id))!)
          .sort((a, b) => a.key.localeCompare(b.key)),
      );
    }),
    /** Sizes of many segments in one statement; keyed by the segment as it is now. */
    sizeBySegment: new DataLoader<Segment, number, string>(
      async (segments) => {
        const { compile } = await environment();
        const counts = await repository.counts(
          segments.map((s) => ({ id: s.id, compiled: compile(s.definition) })),
        );
        return segments.map((s) => counts.get(s.id) ?? 0);
      },
      { cacheKeyFn: (s) => `${s.id}:${s.updatedAt.getTime()}` },
    ),
  };
}
