import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { groupBy } from '../common/collections.js';
import { bigintArray } from '../common/sql.js';
import { CustomerRepository, type CustomerRecord } from '../customer/customer.repository.js';
import type { ClusterRecord } from '../model-registry/model-registry.loaders.js';
import { ModelVersion } from '../model-registry/model-version.entity.js';
import { SuggestionStatus } from './suggestion.entity.js';
import { SuggestionRepository, type SuggestionRecord } from './suggestion.repository.js';
import { onlinePrecision, type TagPrecision } from './suggestion.service.js';
import type { TaxonomyVisibility } from '../taxonomy/visibility.js';

export interface AutoApplyPolicy {
  threshold: number | null;
  sampleRate: number;
}

function alignById<T extends { id: string }>(keys: readonly string[], rows: T[]): (T | null)[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return keys.map((k) => byId.get(k) ?? null);
}

export function createSuggestionLoaders(em: EntityManager, visibility: TaxonomyVisibility) {
  const repository = new SuggestionRepository(em);
  return {
    customerById: new DataLoader<string, CustomerRecord | null>(async (ids) =>
      alignById(ids, await new CustomerRepository(em).findByIds(ids)),
    ),
    modelVersionById: new DataLoader<string, ModelVersion | null>(async (ids) =>
      alignById(ids, await em.find(ModelVersion, { id: { $in: [...ids] } })),
    ),
    clusterById: new DataLoader<string, ClusterRecord | null>(async (ids) =>
      alignById(
        ids,
        await em.execute<ClusterRecord[]>(
          'select id, index, label, size, profile from cluster where id = any(?::bigint[])',
          [bigintArray(ids)],
        ),
      ),
    ),
    /** Pending suggestions per customer, most confident first. */
    pendingSuggestionsByCustomerId: new DataLoader<string, SuggestionRecord[]>(async (ids) => {
      const rows = await visibility.withoutHidden(
        await repository.findByCustomerIds(ids, [SuggestionStatus.PENDING]),
        (r) => r.tagId,
      );
      const byCustomer = groupBy(rows, (r) => r.customerId);
      return ids.map((id) => byCustomer.get(id) ?? []);
    }),
    precisionByModelVersionId: new DataLoader<string, TagPrecision[]>(async (ids) => {
      const rows = (await repository.decisionCounts(ids)).map(onlinePrecision);
      const byVersion = groupBy(rows, (r) => r.modelVersionId);
      return ids.map((id) => byVersion.get(id) ?? []);
    }),
    autoApplyPolicyByTagId: new DataLoader<string, AutoApplyPolicy>(async (ids) => {
      const rows = await em.execute<(AutoApplyPolicy & { id: string })[]>(
        `select id, auto_apply_threshold as threshold, auto_apply_sample_rate as "sampleRate"
         from tag where id = any(?::bigint[])`,
        [bigintArray(ids)],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? { threshold: null, sampleRate: 0 });
    }),
  };
}
