import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { bigintArray } from '../common/sql.js';

export interface ClusterRecord {
  id: string;
  index: number;
  label: string;
  size: number;
  profile: Record<string, unknown>;
}

export function createModelRegistryLoaders(em: EntityManager) {
  return {
    /** The customer's segment in the ACTIVE model; null without an active model. */
    activeClusterByCustomerId: new DataLoader<string, ClusterRecord | null>(async (ids) => {
      const rows = await em.execute<(ClusterRecord & { customerId: string })[]>(
        `select cc.customer_id as "customerId", c.id, c.index, c.label, c.size, c.profile
         from customer_cluster cc
         join model_version mv on mv.id = cc.model_version_id and mv.status = 'ACTIVE'
         join cluster c on c.id = cc.cluster_id
         where cc.customer_id = any(?::bigint[])`,
        [bigintArray(ids)],
      );
      const byId = new Map(rows.map((r) => [r.customerId, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
