import { ArrayType, Entity, Enum, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';

export enum CategoryKind {
  DEMOGRAPHIC = 'DEMOGRAPHIC',
  BEHAVIOUR = 'BEHAVIOUR',
  INTEREST = 'INTEREST',
  VALUE = 'VALUE',
  LIFECYCLE = 'LIFECYCLE',
  INTERACTION = 'INTERACTION',
  OTHER = 'OTHER',
}

@Entity({ tableName: 'tag_category' })
export class TagCategory {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text', unique: true })
  key: string;

  @Property({ type: 'text' })
  name: string;

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Enum({ items: () => CategoryKind, type: 'text' })
  kind: CategoryKind;

  @ManyToOne(() => TagCategory, {
    mapToPk: true,
    type: 'bigint',
    nullable: true,
    fieldName: 'parent_id',
    deleteRule: 'restrict',
  })
  parentId: string | null = null;

  /** A customer holds at most one tag of an exclusive category (value tier, lifecycle stage). */
  @Property({ type: 'boolean', default: false })
  exclusive: boolean = false;

  /**
   * Departments allowed to see it; empty: every key. Keys of other departments (ADMIN excepted)
   * cannot see it on any path, as if it did not exist.
   */
  @Property({ type: ArrayType, columnType: 'text[]', default: '{}' })
  departments: string[] = [];

  /** Models may propose tags of this category. */
  @Property({ type: 'boolean', default: false })
  suggestable: boolean = false;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  constructor(key: string, name: string, kind: CategoryKind) {
    this.key = key;
    this.name = name;
    this.kind = kind;
  }
}
