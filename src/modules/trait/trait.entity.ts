import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * The taxonomy of traits: what is known about an attribute key. A key needs no row to be used —
 * customers carry any traits — but a row marks it personal: its values are masked for keys without
 * the PII permission, and conditions and filters on it are refused to them.
 */
@Entity({ tableName: 'trait' })
export class Trait {
  @PrimaryKey({ type: 'text' })
  key: string;

  @Property({ type: 'boolean', default: false })
  personal: boolean = false;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  updatedAt: Date = new Date();

  /** Who last changed the flag: a key's name, or the CLI, demo or an import. */
  @Property({ type: 'text', nullable: true })
  updatedBy: string | null = null;

  constructor(key: string) {
    this.key = key;
  }
}
