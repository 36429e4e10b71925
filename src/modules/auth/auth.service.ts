import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidInputError } from '../common/domain.errors.js';
import { ApiKey, Role } from './api-key.entity.js';

export interface Viewer {
  readonly keyId: string;
  readonly name: string;
  readonly role: Role;
}

const KEY_PREFIX = 'tw_';
const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * Resolves bearer keys to viewers. Keys are random 32-byte secrets, so a plain SHA-256 is a
 * sufficient one-way hash. Lookups are cached briefly per process: authentication must not cost a
 * query per request on hot read paths; a revoked key stops working within CACHE_TTL_MS.
 */
export class AuthService {
  private readonly cache = new Map<string, { viewer: Viewer | null; expires: number }>();

  constructor(private readonly em: EntityManager) {}

  async authenticate(key: string): Promise<Viewer | null> {
    const hash = hashApiKey(key);
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached && cached.expires > now) return cached.viewer;

    const row = await this.em.fork().findOne(ApiKey, { keyHash: hash, revokedAt: null });
    const viewer = row ? { keyId: row.id, name: row.name, role: row.role } : null;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(hash, { viewer, expires: now + CACHE_TTL_MS });
    return viewer;
  }

  /** Creates a key and returns it in clear text: the only time it is ever visible. */
  async createKey(role: Role, name: string): Promise<{ key: string; apiKey: ApiKey }> {
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > 100) {
      throw new InvalidInputError('name', 'name must be 1 to 100 characters');
    }
    if (!Object.values(Role).includes(role)) {
      throw new InvalidInputError('role', `role must be one of ${Object.values(Role).join(', ')}`);
    }
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    const apiKey = new ApiKey(trimmed, role, hashApiKey(key), key.slice(0, 10));
    await this.em.fork().persist(apiKey).flush();
    return { key, apiKey };
  }

  /** Makes `ADMIN_API_KEY` a valid admin key; idempotent across restarts. */
  async ensureAdminKey(key: string): Promise<void> {
    await this.em
      .fork()
      .getConnection()
      .execute(
        `insert into api_key (name, role, key_hash, key_prefix) values (?, ?, ?, ?)
         on conflict (key_hash) do update set role = excluded.role, revoked_at = null`,
        ['ADMIN_API_KEY', Role.ADMIN, hashApiKey(key), key.slice(0, 4)],
      );
  }
}
