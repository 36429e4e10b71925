import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { pageById, type Page, type PageRequest } from '../common/pagination.js';
import { textArray } from '../common/sql.js';
import { AuditEntry, type ActorKind } from './audit-entry.entity.js';

export interface AuditActor {
  kind: ActorKind;
  keyId: string | null;
  name: string;
}

export interface AuditRecord {
  /** The mutation (`updateTag`), a CLI command (`cli:import customers`), or READ_PERSONAL_DATA. */
  operation: string;
  targetType?: string | null;
  targetIds?: readonly string[];
  change?: Record<string, unknown>;
}

/** Validated filters (AuditService checks them); every one is optional and they combine. */
export interface AuditQuery {
  actorKeyId?: string;
  operation?: string;
  targetType?: string;
  targetId?: string;
  from?: Date;
  to?: Date;
}

const ID = /^[1-9][0-9]{0,17}$/;

export class AuditRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * One INSERT, outside the identity map: an entry is never read back by the request that wrote it,
   * and a flush of the request's own entities must not carry it along.
   */
  async append(actor: AuditActor, record: AuditRecord): Promise<void> {
    await this.em.execute(
      `insert into audit_log (actor_key_id, actor_name, actor_kind, operation, target_type, target_ids, change)
       values (?, ?, ?, ?, ?, ?::text[], ?::jsonb)`,
      [
        actor.keyId,
        actor.name,
        actor.kind,
        record.operation,
        record.targetType ?? null,
        textArray(record.targetIds ?? []),
        JSON.stringify(record.change ?? {}),
      ],
    );
  }

  /** Newest first. */
  page(query: AuditQuery, page: PageRequest): Promise<Page<AuditEntry>> {
    return pageById(this.em, AuditEntry, whereOf(query), page, 'desc');
  }

  /**
   * The next `limit` entries after `afterId` in id order (oldest first), for exports: a keyset
   * batch, so an export of millions of entries holds one batch in memory, and entries appended
   * meanwhile come at the end rather than shifting an offset.
   */
  batch(query: AuditQuery, afterId: string | null, limit: number): Promise<AuditEntry[]> {
    const after = afterId === null ? {} : { id: { $gt: afterId } };
    return this.em.find(
      AuditEntry,
      { $and: [whereOf(query), after] },
      { orderBy: { id: 'asc' }, limit, disableIdentityMap: true },
    );
  }

  /**
   * The named columns of one row, as `{ field: value }`, or null when there is no such row. For
   * before/after of an update: read before the change and again after it. Table and columns are
   * constants of the caller; an id that is not one is no row (the service refuses it itself).
   */
  async snapshot(
    table: string,
    columns: Readonly<Record<string, string>>,
    id: unknown,
  ): Promise<Record<string, unknown> | null> {
    if (typeof id !== 'string' || !ID.test(id)) return null;
    const select = Object.entries(columns)
      .map(([field, column]) => `"${column}" as "${field}"`)
      .join(', ');
    const [row] = await this.em.execute<Record<string, unknown>[]>(
      `select ${select} from "${table}" where id = ?`,
      [id],
    );
    return row ?? null;
  }

  /** The first row of a query, for snapshots that are not one row by id. */
  async firstRow(sql: string, params: unknown[] = []): Promise<Record<string, unknown> | null> {
    const [row] = await this.em.execute<Record<string, unknown>[]>(sql, params);
    return row ?? null;
  }

  /** Ids of the customers with these external ids (a bounded sample; see sampleIds). */
  async customerIdsByExternalId(externalIds: readonly string[]): Promise<string[]> {
    if (externalIds.length === 0) return [];
    const rows = await this.em.execute<{ id: string }[]>(
      'select id::text as id from customer where external_id = any(?::text[]) order by id',
      [textArray(externalIds)],
    );
    return rows.map((r) => r.id);
  }
}

function whereOf(query: AuditQuery): FilterQuery<AuditEntry> {
  const where: FilterQuery<AuditEntry>[] = [];
  if (query.actorKeyId !== undefined) where.push({ actorKeyId: query.actorKeyId });
  if (query.operation !== undefined) where.push({ operation: query.operation });
  if (query.targetType !== undefined) where.push({ targetType: query.targetType });
  if (query.targetId !== undefined) where.push({ targetIds: { $contains: [query.targetId] } });
  if (query.from !== undefined) where.push({ at: { $gte: query.from } });
  if (query.to !== undefined) where.push({ at: { $lt: query.to } });
  return where.length === 0 ? {} : { $and: where };
}
