import { ArrayType, Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { TagCategory } from './tag-category.entity.js';

export enum TagStatus {
  ACTIVE = 'ACTIVE',
  DEPRECATED = 'DEPRECATED',
}

@Entity({ tableName: 'tag' })
@Index({ name: 'tag_category_id_idx', properties: ['categoryId'] })
export class Tag {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  /** Normalized (trimmed, lower-case, dashes); unique. */
  @Property({ type: 'text', unique: true })
  key: string;

  @Property({ type: 'text' })
  name: string;

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Property({ type: 'text', nullable: true })
  color: string | null = null;

  @ManyToOne(() => TagCategory, {
    mapToPk: true,
    type: 'bigint',
    fieldName: 'category_id',
    deleteRule: 'restrict',
  })
  categoryId: string;

  @Enum({ items: () => TagStatus, type: 'text', default: TagStatus.ACTIVE })
  status: TagStatus = TagStatus.ACTIVE;

  /** Set when the tag was retired by a merge: where its assignments went. */
  @ManyToOne(() => Tag, {
    mapToPk: true,
    type: 'bigint',
    nullable: true,
    fieldName: 'merged_into_id',
    deleteRule: 'restrict',
  })
  mergedIntoId: string | null = null;

  /**
   * Suggestions at or above this confidence are applied without review (AUTO_APPLIED); null, the
   * default, sends every suggestion to a reviewer.
   */
  @Property({ type: 'real', nullable: true })
  autoApplyThreshold: number | null = null;

  /**
   * Whether holding the tag by a rule or trigger counts as a training label. Off by default: a
   * model trained on a rule's output learns the rule back, not what people see in customers.
   */
  @Property({ type: 'boolean', default: false })
  learnFromRules: boolean = false;

  /** Share of auto-applied suggestions still sent to the queue for quality control. */
  @Property({ type: 'real', default: 0.1 })
  autoApplySampleRate: number = 0.1;

  /**
   * Departments allowed to see it; empty: every key. Keys of other departments (ADMIN excepted)
   * cannot see it on any path, as if it did not exist.
   */
  @Property({ type: ArrayType, columnType: 'text[]', default: '{}' })
  departments: string[] = [];

  @Property({ type: 'timestamptz', nullable: true })
  deprecatedAt: Date | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  constructor(key: string, name: string, categoryId: string) {
    this.key = key;
    this.name = name;
    this.categoryId = categoryId;
  }
}
