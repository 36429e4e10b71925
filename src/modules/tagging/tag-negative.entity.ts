import { Entity, Enum, Index, ManyToOne, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { Customer } from '../customer/customer.entity.js';
import { Tag } from '../taxonomy/tag.entity.js';

export enum NegativeSource {
  /** A tag import with `--complete` listed the customer without this tag of its category. */
  IMPORT = 'IMPORT',
  /** A reviewer rejected the tag for the customer, or corrected it to another tag. */
  REVIEW = 'REVIEW',
}

/**
 * An explicit "this customer does not hold this tag": a known NEGATIVE label for training. The
 * other labels are derived where they live (customer_tag for positives, exclusive categories for
 * implied negatives); see tagging/label.repository.ts. Written set-based.
 */
@Entity({ tableName: 'tag_negative' })
@Index({ name: 'tag_negative_tag_id_customer_id_idx', properties: ['tag', 'customer'] })
export class TagNegative {
  [PrimaryKeyProp]?: ['customer', 'tag'];

  // Like customer_tag: no foreign keys, the customer erasure and tag reference triggers cover it.
  @ManyToOne(() => Customer, { primary: true, createForeignKeyConstraint: false })
  customer!: Customer;

  @ManyToOne(() => Tag, { primary: true, createForeignKeyConstraint: false })
  tag!: Tag;

  @Enum({ items: () => NegativeSource, type: 'text' })
  source!: NegativeSource;

  @Property({ type: 'text', nullable: true })
  actor: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
