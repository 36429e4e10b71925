import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { Customer } from '../customer/customer.entity.js';
import { Tag } from '../taxonomy/tag.entity.js';
import { TagSource } from './customer-tag.entity.js';

export enum TagAction {
  APPLIED = 'APPLIED',
  REMOVED = 'REMOVED',
  /** Removed because another tag of the same exclusive category was applied (relatedTag). */
  REPLACED = 'REPLACED',
  /** Moved to relatedTag (or dropped as a duplicate of it) by a merge. */
  MERGED = 'MERGED',
}

export interface AssignmentSnapshot {
  source: TagSource;
  confidence: number | null;
  modelVersion: string | null;
  appliedBy: string | null;
  appliedAt: string;
  note: string | null;
}

/** Append-only: a database trigger refuses UPDATE and DELETE. */
@Entity({ tableName: 'tag_history' })
@Index({ name: 'tag_history_customer_id_id_idx', properties: ['customer', 'id'] })
@Index({ name: 'tag_history_tag_id_idx', properties: ['tag'] })
export class TagHistory {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  // No foreign key (see migrations/*_customer_erasure.ts): a per-row check would lock a customer
  // row for every bulk-written row; a statement trigger on customer erases these rows instead.
  @ManyToOne(() => Customer, { createForeignKeyConstraint: false })
  customer!: Customer;

  // Checked per statement, not per row: see migrations/*_tag_reference_checks.ts.
  @ManyToOne(() => Tag, { createForeignKeyConstraint: false })
  tag!: Tag;

  @Enum({ items: () => TagAction, type: 'text' })
  action!: TagAction;

  @Enum({ items: () => TagSource, type: 'text' })
  source!: TagSource;

  // Checked per statement, not per row: see migrations/*_tag_reference_checks.ts.
  @ManyToOne(() => Tag, { nullable: true, createForeignKeyConstraint: false })
  relatedTag: Tag | null = null;

  @Property({ type: 'jsonb', nullable: true })
  before: AssignmentSnapshot | null = null;

  @Property({ type: 'jsonb', nullable: true })
  after: AssignmentSnapshot | null = null;

  @Property({ type: 'text', nullable: true })
  actor: string | null = null;

  @Property({ type: 'text', nullable: true })
  note: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  occurredAt: Date = new Date();
}
