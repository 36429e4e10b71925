import { Entity, OneToOne, Property } from '@mikro-orm/core';
import { Customer } from '../customer/customer.entity.js';

/** Per-customer feature values by name, computed set-based in SQL by the feature job. */
@Entity({ tableName: 'customer_features' })
export class CustomerFeatures {
  // No foreign key (see migrations/*_customer_erasure.ts): a per-row check would lock a customer
  // row for every bulk-written row; a statement trigger on customer erases these rows instead.
  @OneToOne(() => Customer, { primary: true, createForeignKeyConstraint: false })
  customer!: Customer;

  /** The feature-set version the values were computed with. */
  @Property({ type: 'integer' })
  featureSetVersion!: number;

  @Property({ type: 'timestamptz' })
  computedAt!: Date;

  @Property({ type: 'jsonb' })
  values!: Record<string, number | string | null>;
}

/** Customers whose events changed since the last refresh; filled by a trigger on event. */
@Entity({ tableName: 'feature_refresh_queue' })
export class FeatureRefreshQueue {
  // No foreign key (see migrations/*_customer_erasure.ts): a per-row check would lock a customer
  // row for every bulk-written row; a statement trigger on customer erases these rows instead.
  @OneToOne(() => Customer, { primary: true, createForeignKeyConstraint: false })
  customer!: Customer;
}
