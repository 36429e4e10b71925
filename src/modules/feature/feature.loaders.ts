import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { FeatureRepository, type StoredFeatures } from './feature.repository.js';

export function createFeatureLoaders(em: EntityManager) {
  const repository = new FeatureRepository(em);
  return {
    featuresByCustomerId: new DataLoader<string, StoredFeatures | null>(async (ids) => {
      const byId = new Map((await repository.findByCustomerIds(ids)).map((f) => [f.customerId, f]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
