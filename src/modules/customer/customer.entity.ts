import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

export type AttributeValue = string | number | boolean | null;
export type Attributes = Record<string, AttributeValue>;

/** Writes to customers are set-based SQL (customer.repository.ts); the entity defines the table. */
@Entity({ tableName: 'customer' })
@Index({ name: 'customer_name_id_idx', properties: ['name', 'id'] })
@Index({ name: 'customer_created_at_id_idx', properties: ['createdAt', 'id'] })
@Index({ name: 'customer_updated_at_id_idx', properties: ['updatedAt', 'id'] })
@Index({
  name: 'customer_attributes_idx',
  expression:
    'create index "customer_attributes_idx" on "customer" using gin ("attributes" jsonb_path_ops)',
})
@Index({
  name: 'customer_search_idx',
  expression:
    'create index "customer_search_idx" on "customer" using gin ((lower("name" || \' \' || coalesce("email", \'\'))) gin_trgm_ops)',
})
export class Customer {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text', unique: true })
  externalId: string;

  @Property({ type: 'text', default: '' })
  name: string;

  @Property({ type: 'text', nullable: true })
  email: string | null = null;

  @Property({ type: 'text', nullable: true })
  phone: string | null = null;

  @Property({ type: 'text', nullable: true })
  gender: string | null = null;

  @Property({ type: 'integer', nullable: true })
  birthYear: number | null = null;

  @Property({ type: 'text', nullable: true })
  region: string | null = null;

  @Property({ type: 'text', nullable: true })
  city: string | null = null;

  @Property({ type: 'text', nullable: true })
  industry: string | null = null;

  @Property({ type: 'integer', nullable: true })
  companySize: number | null = null;

  @Property({ type: 'text', nullable: true })
  lifecycleStage: string | null = null;

  /**
   * When the customer first became known to the business (sign-up, first order), as imports map
   * it; tenure counts from here, else from createdAt (when the row was created here).
   */
  @Property({ type: 'timestamptz', nullable: true })
  firstSeenAt: Date | null = null;

  @Property({ type: 'jsonb', defaultRaw: "'{}'::jsonb" })
  attributes: Attributes = {};

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  updatedAt: Date = new Date();

  constructor(externalId: string, name: string) {
    this.externalId = externalId;
    this.name = name;
  }
}

/**
 * Row-count deltas of `customer`, appended by statement triggers: an unfiltered totalCount sums a
 * few rows instead of scanning the table, and concurrent writers never contend on one counter.
 */
@Entity({ tableName: 'customer_count_delta' })
export class CustomerCountDelta {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'bigint' })
  n!: string;
}
