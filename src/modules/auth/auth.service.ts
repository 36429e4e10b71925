import { createHash, randomBytes } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditRepository } from '../audit/audit.repository.js';
import { SYSTEM_ACTOR } from '../audit/audit.service.js';
import { isDatabaseUnavailable } from '../common/database.errors.js';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  ServiceUnavailableError,
} from '../common/domain.errors.js';
import { pageById, type Page, type PageRequest } from '../common/pagination.js';
import { ApiKey, ApiKeySource, Permission, Role } from './api-key.entity.js';

export interface Viewer {
  readonly keyId: string;
  readonly name: string;
  readonly role: Role;
  readonly permissions: readonly Permission[];
  readonly departments: readonly string[];
  /** The key's first characters, as `apiKeys` lists them. */
  readonly keyPrefix: string;
  readonly expiresAt: Date | null;
}

export interface CreateKeyInput {
  role: Role;
  name: string;
  permissions?: readonly Permission[] | null;
  departments?: readonly string[] | null;
  expiresAt?: Date | null;
}

const KEY_PREFIX = 'tw_';
/**
 * How long a looked-up key is trusted while the change listener is connected (it clears the cache
 * on every change to api_key, so this only bounds what a lost notification could cost). Without a
 * listener nothing is cached: a revoked key must stop at once.
 */
const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;
/** last_used_at is written at most this often per key and process. */
const LAST_USED_EVERY_MS = 60_000;
const MAX_DEPARTMENTS = 20;
/** Department keys: lower-case words joined by - or _, as tag keys are. */
const DEPARTMENT = /^[a-z0-9][a-z0-9_-]{0,49}$/;

/** Distinct, validated department keys; shared by keys and by restricted tags and categories. */
export function normalizeDepartments(list: readonly string[], field: string): string[] {
  const departments = [...new Set(list)];
  if (departments.length > MAX_DEPARTMENTS) {
    throw new InvalidInputError(field, `${field}: at most ${MAX_DEPARTMENTS} departments`);
  }
  departments.forEach((d, i) => {
    if (!DEPARTMENT.test(d)) {
      throw new InvalidInputError(
        `${field}[${i}]`,
        `${field}[${i}]: a department is 1 to 50 lower-case letters, digits, - or _, starting with a letter or digit`,
      );
    }
  });
  return departments;
}

/** What a key may do, for the audit log: never its secret or hash. */
export function keyRights(key: ApiKey) {
  return {
    name: key.name,
    role: key.role,
    permissions: key.permissions,
    departments: key.departments,
    expiresAt: key.expiresAt,
  };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

interface Cached {
  viewer: Viewer | null;
  /** The key's own expiry (ms), checked on every use: an expiry needs no notification. */
  expiresAt: number | null;
  until: number;
}

/**
 * Resolves bearer keys to viewers and manages keys. Keys are random 32-byte secrets, so a plain
 * SHA-256 is a sufficient one-way hash. Lookups are cached per process while an ApiKeyListener
 * keeps the cache honest (see CACHE_TTL_MS): authentication must not cost a query per request on
 * hot read paths.
 */
export class AuthService {
  private readonly cache = new Map<string, Cached>();
  private readonly lastUsed = new Map<string, number>();
  private cacheTrusted = false;

  constructor(private readonly em: EntityManager) {}

  /** The listener's word: every cached key may have changed. */
  invalidate(): void {
    this.cache.clear();
  }

  /** Caching is on only while a listener hears every change to api_key. */
  setCacheTrusted(trusted: boolean): void {
    this.cacheTrusted = trusted;
    this.cache.clear();
  }

  async authenticate(key: string): Promise<Viewer | null> {
    const hash = hashApiKey(key);
    const now = Date.now();
    const cached = this.cacheTrusted ? this.cache.get(hash) : undefined;
    let entry: Cached;
    if (cached && cached.until > now) {
      entry = cached;
    } else {
      const row = await this.lookUp(hash);
      entry = {
        viewer: row
          ? {
              keyId: row.id,
              name: row.name,
              role: row.role,
              permissions: Object.freeze([...row.permissions]),
              departments: Object.freeze([...row.departments]),
              keyPrefix: row.keyPrefix,
              expiresAt: row.expiresAt,
            }
          : null,
        expiresAt: row?.expiresAt?.getTime() ?? null,
        until: now + CACHE_TTL_MS,
      };
      if (this.cacheTrusted) {
        if (this.cache.size >= CACHE_MAX) this.cache.clear();
        this.cache.set(hash, entry);
      }
    }
    if (!entry.viewer || (entry.expiresAt !== null && entry.expiresAt <= now)) return null;
    this.touch(entry.viewer.keyId, now);
    return entry.viewer;
  }

  /** A key that cannot be looked up is neither valid nor invalid: the database is down. */
  private async lookUp(keyHash: string): Promise<ApiKey | null> {
    try {
      return await this.em.fork().findOne(ApiKey, { keyHash, revokedAt: null });
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw new ServiceUnavailableError();
      throw error;
    }
  }

  /** Records the use, at most once a minute per key; a failed write never fails the request. */
  private touch(keyId: string, now: number): void {
    if ((this.lastUsed.get(keyId) ?? 0) > now - LAST_USED_EVERY_MS) return;
    if (this.lastUsed.size >= CACHE_MAX) this.lastUsed.clear();
    this.lastUsed.set(keyId, now);
    this.em
      .fork()
      .getConnection()
      .execute('update api_key set last_used_at = now() where id = ?', [keyId])
      .catch(() => this.lastUsed.delete(keyId));
  }

  /** Keys by id, revoked and expired ones included (they stay, for the audit trail). */
  async listKeys(page: PageRequest): Promise<Page<ApiKey>> {
    return pageById(this.em.fork(), ApiKey, {}, page);
  }

  /** Creates a key and returns it in clear text: the only time it is ever visible. */
  async createKey(input: CreateKeyInput): Promise<{ key: string; apiKey: ApiKey }> {
    const { key, apiKey } = mintKey(this.validated(input));
    await this.em.fork().persist(apiKey).flush();
    return { key, apiKey };
  }

  /**
   * Revokes a key at once (every API process hears of it). Revoking a revoked key changes
   * nothing. The last usable ADMIN key cannot be revoked: nobody could manage keys any more.
   */
  async revokeKey(id: string): Promise<ApiKey> {
    return this.em.fork().transactional(async (em) => {
      const key = await this.lockKey(em, id);
      if (key.revokedAt) return key;
      if (key.role === Role.ADMIN) await this.keepAnAdmin(em, key.id);
      key.revokedAt = new Date();
      return key;
    });
  }

  /**
   * Replaces a key with a new secret of the same name, role, permissions, departments and expiry,
   * revoking the old one in the same transaction; returns the new key in clear text, once.
   */
  async rotateKey(id: string): Promise<{ key: string; apiKey: ApiKey }> {
    return this.em.fork().transactional(async (em) => {
      const old = await this.lockKey(em, id);
      if (old.revokedAt) throw new ConflictError(`API key ${id} is revoked; create a new one`);
      if (old.source === ApiKeySource.ENVIRONMENT) {
        throw new ConflictError(
          `API key ${id} is ADMIN_API_KEY's; change that setting to rotate it`,
        );
      }
      const rotated = mintKey(old);
      old.revokedAt = new Date();
      em.persist(rotated.apiKey);
      return rotated;
    });
  }

  /**
   * Makes `ADMIN_API_KEY` a valid admin key, idempotent across restarts, and retires the key an
   * earlier value seeded: changing the setting is how that key is rotated. A seeded key someone
   * revoked stays revoked.
   */
  async ensureAdminKey(key: string): Promise<void> {
    const hash = hashApiKey(key);
    await this.em.fork().transactional(async (em) => {
      const retired = await em.execute<{ id: string }[]>(
        `update api_key set revoked_at = now()
         where source = 'ENVIRONMENT' and key_hash <> ? and revoked_at is null
         returning id::text as id`,
        [hash],
      );
      // xmax = 0: the row was inserted by this statement, not updated on conflict.
      const [seeded] = await em.execute<{ id: string; inserted: boolean }[]>(
        `insert into api_key (name, role, key_hash, key_prefix, source)
         values ('ADMIN_API_KEY', 'ADMIN', ?, ?, 'ENVIRONMENT')
         on conflict (key_hash) do update set role = 'ADMIN', source = 'ENVIRONMENT'
         returning id::text as id, (xmax = 0) as inserted`,
        [hash, key.slice(0, 4)],
      );
      // Only a change is worth an entry (every start runs this); in the same transaction, so a
      // seeded or retired key is never without one.
      if (retired.length > 0 || seeded?.inserted) {
        await new AuditRepository(em).append(SYSTEM_ACTOR, {
          operation: 'ADMIN_API_KEY',
          targetType: 'API_KEY',
          targetIds: [...(seeded?.inserted ? [seeded.id] : []), ...retired.map((r) => r.id)],
          change: {
            seeded: seeded?.inserted ? seeded.id : null,
            retired: retired.map((r) => r.id),
          },
        });
      }
    });
  }

  private validated(input: CreateKeyInput): KeyFields {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 100) {
      throw new InvalidInputError('name', 'name must be 1 to 100 characters');
    }
    if (!Object.values(Role).includes(input.role)) {
      throw new InvalidInputError('role', `role must be one of ${Object.values(Role).join(', ')}`);
    }
    const permissions = [...new Set(input.permissions ?? [])];
    permissions.forEach((p, i) => {
      if (!Object.values(Permission).includes(p)) {
        throw new InvalidInputError(
          `permissions[${i}]`,
          `permissions are ${Object.values(Permission).join(', ')}`,
        );
      }
    });
    const departments = normalizeDepartments(input.departments ?? [], 'departments');
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt && !(expiresAt.getTime() > Date.now())) {
      throw new InvalidInputError('expiresAt', 'expiresAt must be in the future');
    }
    return { name, role: input.role, permissions, departments, expiresAt };
  }

  private async lockKey(em: EntityManager, id: string): Promise<ApiKey> {
    if (!/^[0-9]{1,18}$/.test(id)) throw new InvalidInputError('id', `"${id}" is not a key id`);
    const key = await em.findOne(ApiKey, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!key) throw new NotFoundError('ApiKey', id);
    return key;
  }

  /** Refuses to leave no usable ADMIN key, under a lock on every usable one. */
  private async keepAnAdmin(em: EntityManager, revoking: string): Promise<void> {
    // em.execute runs in the transaction; its connection's execute would wait on our own lock.
    const admins = await em.execute<{ id: string }[]>(
      `select id from api_key
       where role = 'ADMIN' and revoked_at is null and (expires_at is null or expires_at > now())
       for update`,
    );
    if (!admins.some((a) => String(a.id) !== revoking)) {
      throw new ConflictError(
        'This is the last usable ADMIN key; create another admin key before revoking it',
      );
    }
  }
}

type KeyFields = Pick<ApiKey, 'name' | 'role' | 'permissions' | 'departments' | 'expiresAt'>;

/** A new secret with these rights: the key in clear text (shown once) and its row to persist. */
function mintKey(fields: KeyFields): { key: string; apiKey: ApiKey } {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const apiKey = new ApiKey(fields.name, fields.role, hashApiKey(key), key.slice(0, 10));
  apiKey.permissions = [...fields.permissions];
  apiKey.departments = [...fields.departments];
  apiKey.expiresAt = fields.expiresAt;
  return { key, apiKey };
}
