import { Entity, PrimaryKey, Property } from '@mikro-orm/core';
import type { Condition } from './condition/ast.js';

/** A saved condition over customers; its members are computed on read, never stored. */
@Entity({ tableName: 'segment' })
export class Segment {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  /** How conditions reference the segment (`segment:key`); unique and immutable. */
  @Property({ type: 'text', unique: true })
  key: string;

  @Property({ type: 'text' })
  name: string;

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  /** The condition tree, validated against the taxonomy and feature set when saved. */
  @Property({ type: 'jsonb' })
  definition: Condition;

  @Property({ type: 'text', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  constructor(key: string, name: string, definition: Condition) {
    this.key = key;
    this.name = name;
    this.definition = definition;
  }
}
