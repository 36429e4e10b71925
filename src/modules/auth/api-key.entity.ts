import { Entity, Enum, PrimaryKey, Property } from '@mikro-orm/core';

export enum Role {
  VIEWER = 'VIEWER',
  REVIEWER = 'REVIEWER',
  DATA_SCIENTIST = 'DATA_SCIENTIST',
  ADMIN = 'ADMIN',
}

/** Only a SHA-256 of the key is stored; the key itself is shown once at creation. */
@Entity({ tableName: 'api_key' })
export class ApiKey {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text' })
  name: string;

  @Enum({ items: () => Role, type: 'text' })
  role: Role;

  @Property({ type: 'text', unique: true })
  keyHash: string;

  /** First characters of the key, so an admin can tell keys apart without seeing them. */
  @Property({ type: 'text' })
  keyPrefix: string;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;

  constructor(name: string, role: Role, keyHash: string, keyPrefix: string) {
    this.name = name;
    this.role = role;
    this.keyHash = keyHash;
    this.keyPrefix = keyPrefix;
  }
}
