import os from 'node:os';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Viewer } from '../auth/auth.service.js';
import { InvalidInputError, parseId } from '../common/domain.errors.js';
import type { Page, PageRequest } from '../common/pagination.js';
import { ActorKind, type AuditEntry } from './audit-entry.entity.js';
import {
  AuditRepository,
  type AuditActor,
  type AuditQuery,
  type AuditRecord,
} from './audit.repository.js';

export type { AuditActor, AuditRecord } from './audit.repository.js';

/**
 * Ids kept of a bulk operation: enough to find an example, bounded so that a call touching
 * 10,000 rows writes one small entry, not one per row.
 */
export const AUDIT_SAMPLE_SIZE = 20;

/** The operation of the entry a request writes when it returned personal data in clear. */
export const READ_PERSONAL_DATA = 'READ_PERSONAL_DATA';

/** Distinct ids, in order, at most AUDIT_SAMPLE_SIZE of them; empty values dropped. */
export function sampleIds(
  ids: Iterable<string | number | null | undefined> | null | undefined,
  size = AUDIT_SAMPLE_SIZE,
): string[] {
  const sample = new Set<string>();
  for (const id of ids ?? []) {
    if (sample.size >= size) break;
    if (id !== null && id !== undefined && id !== '') sample.add(String(id));
  }
  return [...sample];
}

/** Only the fields that changed, before and after: what an update entry keeps. */
export function changedFields(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
): { before: Record<string, unknown>; after: Record<string, unknown> } {
  const changed = { before: {} as Record<string, unknown>, after: {} as Record<string, unknown> };
  for (const field of new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])) {
    const a = before?.[field] ?? null;
    const b = after?.[field] ?? null;
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    changed.before[field] = a;
    changed.after[field] = b;
  }
  return changed;
}

export function viewerActor(viewer: Viewer): AuditActor {
  return { kind: ActorKind.API_KEY, keyId: viewer.keyId, name: viewer.name };
}

/**
 * The person at the command line, as the operating system knows them: the CLI has no API key,
 * and whoever can run it can reach the database anyway; the OS user is what there is to record.
 */
export function cliActor(): AuditActor {
  let name: string;
  try {
    name = os.userInfo().username;
  } catch {
    // No passwd entry (some containers): the environment's word is the best left.
    name = process.env.USER ?? process.env.LOGNAME ?? `uid ${process.getuid?.() ?? '?'}`;
  }
  return { kind: ActorKind.CLI, keyId: null, name };
}

/** What the server writes on its own (demo data on first start, the ADMIN_API_KEY seed). */
export const SYSTEM_ACTOR: AuditActor = { kind: ActorKind.SYSTEM, keyId: null, name: 'tagwise' };

export interface AuditFilterInput {
  actorKeyId?: string | null;
  operation?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  from?: Date | null;
  to?: Date | null;
}

const MAX_FILTER_TEXT = 200;

/** Appends entries and reads them back; the log itself refuses changes (see the migration). */
export class AuditService {
  private readonly repository: AuditRepository;

  constructor(em: EntityManager) {
    this.repository = new AuditRepository(em);
  }

  record(actor: AuditActor, record: AuditRecord): Promise<void> {
    return this.repository.append(actor, record);
  }

  list(filter: AuditFilterInput | null | undefined, page: PageRequest): Promise<Page<AuditEntry>> {
    return this.repository.page(parseFilter(filter, 'filter'), page);
  }

  /** Entries oldest first, a batch at a time (keyset on id), for `tagwise audit export`. */
  async *export(filter: AuditFilterInput, batchSize = 1000): AsyncGenerator<AuditEntry[]> {
    const query = parseFilter(filter, 'filter');
    for (let after: string | null = null; ;) {
      const batch = await this.repository.batch(query, after, batchSize);
      if (batch.length === 0) return;
      yield batch;
      if (batch.length < batchSize) return;
      after = batch.at(-1)!.id;
    }
  }
}

function parseFilter(filter: AuditFilterInput | null | undefined, prefix: string): AuditQuery {
  const query: AuditQuery = {};
  if (!filter) return query;
  if (filter.actorKeyId != null) {
    query.actorKeyId = parseId(filter.actorKeyId, `${prefix}.actorKeyId`);
  }
  for (const field of ['operation', 'targetType', 'targetId'] as const) {
    const value = filter[field];
    if (value == null) continue;
    if (value.length === 0 || value.length > MAX_FILTER_TEXT) {
      throw new InvalidInputError(
        `${prefix}.${field}`,
        `${prefix}.${field} must be 1 to ${MAX_FILTER_TEXT} characters`,
      );
    }
    query[field] = value;
  }
  if (filter.from != null) query.from = filter.from;
  if (filter.to != null) query.to = filter.to;
  if (query.from && query.to && query.from.getTime() > query.to.getTime()) {
    throw new InvalidInputError(`${prefix}.to`, `${prefix}.to must not be before ${prefix}.from`);
  }
  return query;
}

/**
 * Per-request audit state: the actor, and the customers whose personal data the response carried
 * in clear. Reads are noted field by field while the response is built and written as ONE entry
 * when it is sent (auditPlugin), so a page of 500 customers costs one INSERT, not 500.
 */
export class RequestAudit {
  private readonly personal = new Set<string>();
  private personalReads = 0;

  constructor(
    private readonly em: EntityManager,
    readonly actor: AuditActor | null,
  ) {}

  /** Appends an entry for this request's actor; nothing without one (refused requests). */
  async record(record: AuditRecord): Promise<void> {
    if (!this.actor) return;
    await new AuditService(this.em).record(this.actor, record);
  }

  /** The response includes these customers' personal data in clear. */
  notePersonalRead(customerIds: Iterable<string>): void {
    for (const id of customerIds) {
      this.personalReads++;
      this.personal.add(id);
    }
  }

  /** Writes the personal-data entry, if anything was noted; once per request. */
  async flush(): Promise<void> {
    if (this.personal.size === 0) return;
    const customers = this.personal.size;
    const fields = this.personalReads;
    const sample = sampleIds(this.personal);
    this.personal.clear();
    this.personalReads = 0;
    await this.record({
      operation: READ_PERSONAL_DATA,
      targetType: 'CUSTOMER',
      targetIds: sample,
      change: { customers, fields },
    });
  }
}
