import { Entity, Enum, Index, ManyToOne, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { Customer } from '../customer/customer.entity.js';
import { Tag } from '../taxonomy/tag.entity.js';

export enum TagSource {
  MANUAL = 'MANUAL',
  RULE = 'RULE',
  TRIGGER = 'TRIGGER',
  IMPORT = 'IMPORT',
  MODEL = 'MODEL',
}

/** A tag a customer holds now. Written set-based by tagging.repository.ts. */
@Entity({ tableName: 'customer_tag' })
@Index({ name: 'customer_tag_tag_id_customer_id_idx', properties: ['tag', 'customer'] })
export class CustomerTag {
  [PrimaryKeyProp]?: ['customer', 'tag'];

  // No foreign key (see migrations/*_customer_erasure.ts): a per-row check would lock a customer
  // row for every bulk-written row; a statement trigger on customer erases these rows instead.
  @ManyToOne(() => Customer, { primary: true, createForeignKeyConstraint: false })
  customer!: Customer;

  // Checked per statement, not per row: see migrations/*_tag_reference_checks.ts.
  @ManyToOne(() => Tag, { primary: true, createForeignKeyConstraint: false })
  tag!: Tag;

  @Enum({ items: () => TagSource, type: 'text' })
  source!: TagSource;

  @Property({ type: 'real', nullable: true })
  confidence: number | null = null;

  @Property({ type: 'text', nullable: true })
  modelVersion: string | null = null;

  @Property({ type: 'text', nullable: true })
  appliedBy: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  appliedAt: Date = new Date();

  @Property({ type: 'text', nullable: true })
  note: string | null = null;
}
