import type { EntityManager } from '@mikro-orm/postgresql';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  parseId,
} from '../common/domain.errors.js';
import type { RunStatus } from '../model-registry/model-version.entity.js';
import {
  cursorId,
  cursorTimestamp,
  decodeCursor,
  encodeCursor,
  toPage,
  type Page,
  type PageRequest,
} from '../common/pagination.js';
import {
  RunKind,
  RunRepository,
  type RunPosition,
  type RunQuery,
  type RunRecord,
} from './run.repository.js';

export interface RunFilter {
  kind?: RunKind | null;
  statuses?: readonly RunStatus[] | null;
}

/** Runs of every kind in one list: what is queued, running and done, whoever started it. */
export class RunService {
  private readonly repository: RunRepository;

  constructor(em: EntityManager) {
    this.repository = new RunRepository(em);
  }

  /** Newest first; an empty `statuses` matches nothing, as an empty filter list does elsewhere. */
  async list(filter: RunFilter, page: PageRequest): Promise<Page<RunRecord>> {
    const query: RunQuery = {
      kinds: filter.kind ? [filter.kind] : Object.values(RunKind),
      statuses: filter.statuses ? [...new Set(filter.statuses)] : null,
    };
    const after = page.after ? readCursor(page.after) : null;
    const rows = await this.repository.page(query, page.first + 1, after);
    return toPage(
      rows,
      page.first,
      (r) => encodeCursor([r.sortKey, r.kind, Number(r.id)]),
      () => this.repository.count(query),
    );
  }

  /**
   * Cancels a queued run at once, or asks a running one's worker to stop it (within a heartbeat
   * or so; what it wrote is rolled back). Cancelling a cancelled run again changes nothing; a
   * run that already SUCCEEDED or FAILED is a CONFLICT.
   */
  async cancel(kind: RunKind, id: string): Promise<RunRecord> {
    const runId = parseId(id, 'id');
    const cancelled = await this.repository.requestCancel(kind, runId);
    if (cancelled) return cancelled;
    const run = await this.repository.get(kind, runId);
    if (!run) throw new NotFoundError(`${kind} run`, id);
    if (run.status === 'CANCELLED') return run;
    throw new ConflictError(`${kind} run ${id} already ended: ${run.status}`, {
      field: 'id',
      status: run.status,
    });
  }
}

function readCursor(after: string): RunPosition {
  const [createdAt, kind, id] = decodeCursor(after, 3);
  if (!Object.values(RunKind).includes(kind as RunKind)) {
    throw new InvalidInputError('after', 'after: not a cursor from this list');
  }
  return { createdAt: cursorTimestamp(createdAt), kind: kind as RunKind, id: cursorId(id) };
}
