import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { Customer } from '../customer/customer.entity.js';

/** Built-in event types; any other UPPER_SNAKE name is accepted as a custom type. */
export enum BuiltinEventType {
  PURCHASE = 'PURCHASE',
  PAGE_VIEW = 'PAGE_VIEW',
  DOWNLOAD = 'DOWNLOAD',
  FORM_SUBMIT = 'FORM_SUBMIT',
  EVENT_REGISTRATION = 'EVENT_REGISTRATION',
  EVENT_ATTENDANCE = 'EVENT_ATTENDANCE',
  EMAIL_OPEN = 'EMAIL_OPEN',
  EMAIL_CLICK = 'EMAIL_CLICK',
  SUPPORT_TICKET = 'SUPPORT_TICKET',
  REFERRAL = 'REFERRAL',
}

export enum Channel {
  WEB = 'WEB',
  APP = 'APP',
  STORE = 'STORE',
  CATALOG = 'CATALOG',
  EMAIL = 'EMAIL',
  EVENT = 'EVENT',
  PHONE = 'PHONE',
  OTHER = 'OTHER',
}

/**
 * What a customer did. Written only set-based (recordEvents, COPY imports, the demo). Not
 * partitioned: a global unique externalId (idempotent ingest) is impossible across partitions,
 * and the (customer_id, occurred_at) index serves the per-customer windows features need.
 */
@Entity({ tableName: 'event' })
@Index({ name: 'event_customer_id_occurred_at_idx', properties: ['customer', 'occurredAt'] })
// Condition event windows ("at least N events of type T within D days") scan by type and time and
// read customer and category from the index alone.
@Index({
  name: 'event_type_occurred_at_idx',
  expression:
    'create index "event_type_occurred_at_idx" on "event" ("type", "occurred_at") include ("customer_id", "category")',
})
export class Event {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text', nullable: true, unique: true })
  externalId: string | null = null;

  // No foreign key (see migrations/*_customer_erasure.ts): a per-row check would lock a customer
  // row for every bulk-written row; a statement trigger on customer erases these rows instead.
  @ManyToOne(() => Customer, { createForeignKeyConstraint: false })
  customer!: Customer;

  @Property({ type: 'text' })
  type!: string;

  @Property({ type: 'timestamptz' })
  occurredAt!: Date;

  @Property({ type: 'decimal', precision: 14, scale: 2, nullable: true })
  amount: string | null = null;

  @Property({ type: 'character', length: 3, nullable: true })
  currency: string | null = null;

  @Property({ type: 'text', nullable: true })
  category: string | null = null;

  @Property({ type: 'text', nullable: true })
  channel: Channel | null = null;

  @Property({ type: 'jsonb', defaultRaw: "'{}'::jsonb" })
  properties: Record<string, unknown> = {};

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  ingestedAt: Date = new Date();
}
