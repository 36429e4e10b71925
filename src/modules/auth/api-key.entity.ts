import { ArrayType, Entity, Enum, PrimaryKey, Property } from '@mikro-orm/core';
import { Permission, Role } from './rights.js';

export { Permission, Role };

/** Where a key came from: created by an admin, or seeded from the ADMIN_API_KEY setting. */
export enum ApiKeySource {
  CREATED = 'CREATED',
  ENVIRONMENT = 'ENVIRONMENT',
}

export enum ApiKeyStatus {
  ACTIVE = 'ACTIVE',
  REVOKED = 'REVOKED',
  EXPIRED = 'EXPIRED',
}

export function apiKeyStatus(key: Pick<ApiKey, 'revokedAt' | 'expiresAt'>): ApiKeyStatus {
  if (key.revokedAt) return ApiKeyStatus.REVOKED;
  if (key.expiresAt && key.expiresAt.getTime() <= Date.now()) return ApiKeyStatus.EXPIRED;
  return ApiKeyStatus.ACTIVE;
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

  @Property({ type: ArrayType, columnType: 'text[]', default: '{}' })
  permissions: Permission[] = [];

  /** Department keys; restricted tags are visible only to their departments (and ADMIN). */
  @Property({ type: ArrayType, columnType: 'text[]', default: '{}' })
  departments: string[] = [];

  /** After this the key is refused; null: it does not expire. */
  @Property({ type: 'timestamptz', nullable: true })
  expiresAt: Date | null = null;

  /** Updated at most once a minute per key and process, so reads do not write on every request. */
  @Property({ type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null = null;

  @Enum({ items: () => ApiKeySource, type: 'text', default: ApiKeySource.CREATED })
  source: ApiKeySource = ApiKeySource.CREATED;

  constructor(name: string, role: Role, keyHash: string, keyPrefix: string) {
    this.name = name;
    this.role = role;
    this.keyHash = keyHash;
    this.keyPrefix = keyPrefix;
  }
}
