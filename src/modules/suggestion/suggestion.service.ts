import type { EntityManager } from '@mikro-orm/postgresql';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  parseId,
  parseIds,
} from '../common/domain.errors.js';
import {
  decodeCursor,
  encodeCursor,
  toPage,
  type Page,
  type PageRequest,
} from '../common/pagination.js';
import { ModelRegistryService } from '../model-registry/model-registry.service.js';
import { TagSource } from '../tagging/customer-tag.entity.js';
import { TaggingRepository } from '../tagging/tagging.repository.js';
import { TaxonomyVisibility } from '../taxonomy/visibility.js';
import { Tag, TagStatus } from '../taxonomy/tag.entity.js';
import {
  ReviewAction,
  SuggestionRun,
  SuggestionRunStatus,
  SuggestionStatus,
} from './suggestion.entity.js';
import { DEFAULT_COOLDOWN_DAYS } from './suggestion.defaults.js';
import {
  ORDERINGS,
  type QueueOrder,
  SuggestionRepository,
  type ClaimSelector,
  type ClaimedSuggestion,
  type QueueFilter,
  type ReviewEntry,
  type SuggestionRecord,
  type TagPrecisionRow,
} from './suggestion.repository.js';

/** Most suggestions one bulk decision may take; larger backlogs are worked in several calls. */
export const MAX_BULK_DECISIONS = 10_000;
const DEFAULT_BULK_LIMIT = 1_000;
const DRY_RUN_SAMPLE = 10;

export enum Decision {
  APPROVE = 'APPROVE',
  REJECT = 'REJECT',
}

export interface SkippedDecision {
  suggestionId: string;
  status: SuggestionStatus;
  reason: string;
}

export interface BulkOutcome {
  dryRun: boolean;
  matched: number;
  decided: number;
  skipped: SkippedDecision[];
  sample: SuggestionRecord[];
}

interface BulkSelection {
  selected: ClaimedSuggestion[];
  taken: ClaimedSuggestion[];
  skipped: SkippedDecision[];
}

export interface BulkRequest {
  ids?: readonly string[] | null;
  filter?: QueueFilter | null;
  decision: Decision;
  note?: string | null;
  dryRun?: boolean | null;
  limit?: number | null;
}

export interface GenerationRequest {
  modelVersionId?: string | null;
  customerIds?: readonly string[] | null;
  tagIds?: readonly string[] | null;
  cooldownDays?: number | null;
}

export interface TagPrecision extends TagPrecisionRow {
  /** approved / (approved + rejected + corrected); null before the first decision. */
  precision: number | null;
}

/**
 * Online precision of a model version's suggestions of one tag: the share reviewers approved,
 * unweighted, among those they decided. Retired, superseded and unreviewed auto-applied
 * suggestions are nobody's verdict and do not count.
 */
export function onlinePrecision(counts: TagPrecisionRow): TagPrecision {
  const decided = counts.approved + counts.rejected + counts.corrected;
  return { ...counts, precision: decided === 0 ? null : counts.approved / decided };
}

/** The queue, the decisions on it and their effect on customers' tags. */
export class SuggestionService {
  private readonly repository: SuggestionRepository;

  constructor(
    private readonly em: EntityManager,
    private readonly visibility = TaxonomyVisibility.unrestricted(em),
  ) {
    this.repository = new SuggestionRepository(em);
  }

  async queue(
    filter: QueueFilter,
    order: QueueOrder,
    page: PageRequest,
  ): Promise<Page<SuggestionRecord> & { countsByTag: () => Promise<Map<string, number>> }> {
    const { field } = ORDERINGS[order];
    let after: { key: number | null; id: string } | null = null;
    if (page.after) {
      const [key, id] = decodeCursor(page.after, 2);
      if (
        typeof id !== 'string' ||
        !/^[0-9]+$/.test(id) ||
        (key !== null && typeof key !== 'number')
      ) {
        throw new InvalidInputError('after', 'after: not a cursor from this list');
      }
      after = { key: key as number | null, id };
    }
    const rows = await this.repository.findPage(filter, order, page.first, after);
    let counts: Promise<Map<string, number>> | undefined;
    const countsByTag = () => (counts ??= this.repository.countByTag(filter));
    return {
      ...toPage(
        rows,
        page.first,
        (r) => encodeCursor([field ? (r[field] as number) : 0, r.id]),
        async () => [...(await countsByTag()).values()].reduce((a, b) => a + b, 0),
      ),
      countsByTag,
    };
  }

  async get(id: string): Promise<SuggestionRecord> {
    const [row] = await this.repository.findByIds([parseId(id, 'id')]);
    if (!row || (await this.visibility.isTagHidden(row.tagId))) {
      throw new NotFoundError('TagSuggestion', id);
    }
    return row;
  }

  /** Applies the suggested tag (source MODEL); a CORRECTION replaces the held tag of its category. */
  async approve(id: string, actor: string, note?: string | null): Promise<SuggestionRecord> {
    await this.visibility.hiddenTaxonomy(); // read before the transaction holds a connection
    await this.em.transactional(async (em) => {
      const claimed = await this.claimOne(em, id);
      if (claimed.tagStatus !== TagStatus.ACTIVE) {
        throw new ConflictError(
          `Tag ${claimed.tagId} was deprecated after suggestion ${id} was made; reject it instead`,
        );
      }
      await this.applyApprovals(em, [claimed], actor, note ?? null, null);
    });
    return this.get(id);
  }

  /** Records a negative label at once; a sampled auto-applied suggestion's tag is removed again. */
  async reject(id: string, actor: string, reason?: string | null): Promise<SuggestionRecord> {
    await this.visibility.hiddenTaxonomy(); // read before the transaction holds a connection
    await this.em.transactional(async (em) => {
      const claimed = await this.claimOne(em, id);
      await this.applyRejections(em, [claimed], actor, reason ?? null, null);
    });
    return this.get(id);
  }

  /**
   * Applies another tag of the suggested tag's category instead. Logged twice: the suggested tag
   * as REJECTED (a negative label) and the chosen one as CORRECTED.
   */
  async correct(
    id: string,
    tagId: string,
    actor: string,
    note?: string | null,
  ): Promise<SuggestionRecord> {
    const correctedId = parseId(tagId, 'tagId');
    await this.visibility.hiddenTaxonomy(); // read before the transaction holds a connection
    await this.em.transactional(async (em) => {
      const claimed = await this.claimOne(em, id);
      const tag = await em.findOne(Tag, { id: correctedId });
      if (!tag || (await this.visibility.isTagHidden(tag.id)))
        throw new InvalidInputError('tagId', `tagId: tag ${tagId} does not exist`);
      if (tag.status !== TagStatus.ACTIVE) {
        throw new InvalidInputError('tagId', `tagId: tag "${tag.key}" is deprecated`);
      }
      if (tag.id === claimed.tagId) {
        throw new InvalidInputError(
          'tagId',
          'tagId: that is the suggested tag; approve it instead',
        );
      }
      if (tag.categoryId !== claimed.categoryId) {
        throw new InvalidInputError(
          'tagId',
          `tagId: "${tag.key}" is not in the suggested tag's category`,
        );
      }
      const repository = new SuggestionRepository(em);
      const tagging = new TaggingRepository(em);
      await tagging.lockCustomers([claimed.customerId]);
      await repository.markDecided(
        [claimed.id],
        SuggestionStatus.CORRECTED,
        actor,
        note ?? null,
        tag.id,
      );
      const by = {
        source: TagSource.MANUAL,
        actor,
        note: note ?? null,
        confidence: null,
        modelVersion: null,
      };
      if (claimed.autoApplied) {
        await tagging.deletePairs(
          { customerIds: [claimed.customerId], tagIds: [claimed.tagId] },
          by,
        );
      }
      const pairs = { customerIds: [claimed.customerId], tagIds: [tag.id] };
      await tagging.replaceExclusivePairs(pairs, by);
      await tagging.insertPairs({ ...pairs, confidences: [null], modelVersions: [null] }, by);
      await repository.log(
        [
          { suggestionId: claimed.id, tagId: claimed.tagId, action: ReviewAction.REJECTED },
          { suggestionId: claimed.id, tagId: tag.id, action: ReviewAction.CORRECTED },
        ],
        actor,
        note ?? null,
        null,
      );
    });
    return this.get(id);
  }

  /**
   * One decision for many suggestions, chosen by ids or by filter, in one transaction. Items
   * already decided (or, by filter, taken by a concurrent reviewer) are skipped and reported.
   */
  async bulk(request: BulkRequest, actor: string): Promise<BulkOutcome> {
    const hasIds = request.ids != null;
    if (hasIds === (request.filter != null)) {
      throw new InvalidInputError('input.ids', 'give exactly one of input.ids and input.filter');
    }
    const limit = request.limit ?? (hasIds ? MAX_BULK_DECISIONS : DEFAULT_BULK_LIMIT);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BULK_DECISIONS) {
      throw new InvalidInputError(
        'input.limit',
        `input.limit must be between 1 and ${MAX_BULK_DECISIONS}`,
      );
    }
    const ids = hasIds ? parseIds(request.ids!, 'input.ids') : [];
    if (hasIds && (ids.length === 0 || ids.length > limit)) {
      throw new InvalidInputError(
        'input.ids',
        `input.ids must hold 1 to ${limit} ids (got ${ids.length})`,
      );
    }
    const selector: ClaimSelector = hasIds ? { ids } : { filter: request.filter!, limit };
    await this.visibility.hiddenTaxonomy(); // read before the transaction holds a connection
    if (request.dryRun) {
      // The same selection and split as the real run below, unlocked: the same counts.
      const selection = await this.select(this.repository, selector, request.decision, false);
      return this.outcome(this.repository, true, selection);
    }
    const bulk = hasIds ? { ids: ids.length } : { filter: request.filter, limit };
    return this.em.transactional(async (em) => {
      const repository = new SuggestionRepository(em);
      const selection = await this.select(repository, selector, request.decision, true);
      if (request.decision === Decision.APPROVE) {
        await this.applyApprovals(em, selection.taken, actor, request.note ?? null, bulk);
      } else {
        await this.applyRejections(em, selection.taken, actor, request.note ?? null, bulk);
      }
      return this.outcome(repository, false, selection);
    });
  }

  /** The selected suggestions, split into those the decision takes and those it skips. */
  private async select(
    repository: SuggestionRepository,
    selector: ClaimSelector,
    decision: Decision,
    lock: boolean,
  ): Promise<BulkSelection> {
    const selected = await this.visible(await repository.claim(selector, { lock }));
    if ('ids' in selector) this.assertAllFound(selector.ids, selected);
    const skipped: SkippedDecision[] = [];
    const pending = selected.filter((c) => {
      if (c.status === SuggestionStatus.PENDING) return true;
      skipped.push({ suggestionId: c.id, status: c.status, reason: 'already decided' });
      return false;
    });
    const taken = decision === Decision.APPROVE ? this.approvable(pending, skipped) : pending;
    return { selected, taken, skipped };
  }

  private async outcome(
    repository: SuggestionRepository,
    dryRun: boolean,
    { selected, taken, skipped }: BulkSelection,
  ): Promise<BulkOutcome> {
    const sample = await repository.findByIds(taken.slice(0, DRY_RUN_SAMPLE).map((c) => c.id));
    return {
      dryRun,
      matched: selected.length,
      decided: taken.length,
      skipped,
      sample: sample.sort((a, b) => Number(a.id) - Number(b.id)),
    };
  }

  /** Drops what cannot be approved together: deprecated tags, and all but the most confident of
   * several suggestions for one customer in one exclusive category. */
  private approvable(
    claimed: ClaimedSuggestion[],
    skipped: SkippedDecision[],
  ): ClaimedSuggestion[] {
    const best = new Map<string, ClaimedSuggestion>();
    const out: ClaimedSuggestion[] = [];
    for (const c of claimed) {
      if (c.tagStatus !== TagStatus.ACTIVE) {
        skipped.push({ suggestionId: c.id, status: c.status, reason: 'tag deprecated' });
        continue;
      }
      if (!c.exclusive) {
        out.push(c);
        continue;
      }
      const key = `${c.customerId}:${c.categoryId}`;
      const other = best.get(key);
      if (!other || c.confidence > other.confidence) best.set(key, c);
    }
    for (const c of claimed) {
      if (c.tagStatus !== TagStatus.ACTIVE || !c.exclusive) continue;
      if (best.get(`${c.customerId}:${c.categoryId}`) === c) out.push(c);
      else {
        skipped.push({
          suggestionId: c.id,
          status: c.status,
          reason:
            'another suggestion of the same exclusive category for this customer was approved',
        });
      }
    }
    return out;
  }

  private async applyApprovals(
    em: EntityManager,
    claimed: ClaimedSuggestion[],
    actor: string,
    note: string | null,
    bulk: Record<string, unknown> | null,
  ): Promise<void> {
    if (claimed.length === 0) return;
    const repository = new SuggestionRepository(em);
    const tagging = new TaggingRepository(em);
    await tagging.lockCustomers([...new Set(claimed.map((c) => c.customerId))]);
    // Decided before the tag is inserted: the insert retires pending suggestions of the tags it
    // adds (see *_retire_stale_suggestions.ts), and these are no longer pending.
    await repository.markDecided(
      claimed.map((c) => c.id),
      SuggestionStatus.APPROVED,
      actor,
      note,
    );
    const pairs = {
      customerIds: claimed.map((c) => c.customerId),
      tagIds: claimed.map((c) => c.tagId),
    };
    const by = { source: TagSource.MODEL, actor, note };
    await tagging.replaceExclusivePairs(pairs, { ...by, confidence: null, modelVersion: null });
    await tagging.insertPairs(
      {
        ...pairs,
        confidences: claimed.map((c) => c.confidence),
        modelVersions: claimed.map((c) => c.modelVersion),
      },
      by,
    );
    await repository.log(entries(claimed, ReviewAction.APPROVED), actor, note, bulk);
  }

  private async applyRejections(
    em: EntityManager,
    claimed: ClaimedSuggestion[],
    actor: string,
    reason: string | null,
    bulk: Record<string, unknown> | null,
  ): Promise<void> {
    if (claimed.length === 0) return;
    const repository = new SuggestionRepository(em);
    await repository.markDecided(
      claimed.map((c) => c.id),
      SuggestionStatus.REJECTED,
      actor,
      reason,
    );
    const applied = claimed.filter((c) => c.autoApplied);
    if (applied.length > 0) {
      const tagging = new TaggingRepository(em);
      await tagging.lockCustomers([...new Set(applied.map((c) => c.customerId))]);
      await tagging.deletePairs(
        { customerIds: applied.map((c) => c.customerId), tagIds: applied.map((c) => c.tagId) },
        { source: TagSource.MODEL, actor, note: reason, confidence: null, modelVersion: null },
      );
    }
    await repository.log(entries(claimed, ReviewAction.REJECTED), actor, reason, bulk);
  }

  /** Locks one suggestion; NOT_FOUND when unknown, CONFLICT when someone decided it first. */
  private async claimOne(em: EntityManager, id: string): Promise<ClaimedSuggestion> {
    const [claimed] = await this.visible(
      await new SuggestionRepository(em).claim({ ids: [parseId(id, 'id')] }),
    );
    if (!claimed) throw new NotFoundError('TagSuggestion', id);
    if (claimed.status !== SuggestionStatus.PENDING) {
      throw new ConflictError(
        `Suggestion ${id} was already decided: ${claimed.status}` +
          (claimed.reviewedBy ? ` by ${claimed.reviewedBy}` : '') +
          (claimed.reviewedAt ? ` at ${claimed.reviewedAt.toISOString()}` : ''),
        { status: claimed.status, reviewedBy: claimed.reviewedBy },
      );
    }
    return claimed;
  }

  /**
   * Suggestions of tags hidden from the caller are unknown to it, as absent ones are. (A filter
   * excludes them in SQL already; ids may name any.)
   */
  private visible(claimed: ClaimedSuggestion[]): Promise<ClaimedSuggestion[]> {
    return this.visibility.withoutHidden(claimed, (c) => c.tagId);
  }

  private assertAllFound(ids: readonly string[], rows: readonly { id: string }[]): void {
    const found = new Set(rows.map((r) => r.id));
    const index = ids.findIndex((id) => !found.has(id));
    if (index >= 0) {
      throw new InvalidInputError(
        `input.ids[${index}]`,
        `input.ids[${index}]: suggestion ${ids[index]} does not exist`,
      );
    }
  }

  /** Sets a tag's auto-apply policy; a null threshold turns it off. */
  async setAutoApplyPolicy(
    tagId: string,
    threshold: number | null,
    sampleRate: number | null | undefined,
  ): Promise<Tag> {
    const tag = await this.em.findOne(Tag, { id: parseId(tagId, 'tagId') });
    if (!tag) throw new NotFoundError('Tag', tagId);
    if (threshold !== null && !(threshold > 0 && threshold <= 1)) {
      throw new InvalidInputError('threshold', 'threshold must be in (0, 1], or null to turn off');
    }
    if (sampleRate != null && !(sampleRate >= 0 && sampleRate <= 1)) {
      throw new InvalidInputError('sampleRate', 'sampleRate must be between 0 and 1');
    }
    tag.autoApplyThreshold = threshold;
    if (sampleRate != null) tag.autoApplySampleRate = sampleRate;
    await this.em.flush();
    return tag;
  }

  /**
   * Records a scoring run; the caller enqueues it for a worker. Everything the run would refuse
   * that can be known now is refused here, before a row or a job exists: an unknown or unusable
   * model version, tags that are unknown (or hidden from the caller, which reads the same),
   * deprecated or not suggestable, and customers that do not exist.
   */
  async createRun(request: GenerationRequest, createdBy: string): Promise<SuggestionRun> {
    const cooldownDays = request.cooldownDays ?? DEFAULT_COOLDOWN_DAYS;
    if (!Number.isInteger(cooldownDays) || cooldownDays < 0) {
      throw new InvalidInputError(
        'input.cooldownDays',
        'input.cooldownDays must be a whole number ≥ 0',
      );
    }
    const modelVersionId = request.modelVersionId
      ? parseId(request.modelVersionId, 'input.modelVersionId')
      : null;
    const tagIds = request.tagIds?.length ? parseIds(request.tagIds, 'input.tagIds') : null;
    const customerIds = request.customerIds?.length
      ? parseIds(request.customerIds, 'input.customerIds')
      : null;
    await new ModelRegistryService(this.em).scoringVersion(modelVersionId, 'input.modelVersionId');
    if (tagIds) await this.assertSuggestableTags(tagIds);
    if (customerIds) {
      const missing = await this.repository.missingCustomers(customerIds);
      if (missing.first !== null) {
        throw new NotFoundError('Customer', missing.first, {
          field: 'input.customerIds',
          missing: missing.count,
        });
      }
    }
    const run = this.em.create(SuggestionRun, {
      params: {
        ...(modelVersionId ? { modelVersionId } : {}),
        ...(customerIds ? { customerIds } : {}),
        ...(tagIds ? { tagIds } : {}),
        cooldownDays,
      },
      createdBy,
      status: SuggestionRunStatus.QUEUED,
      report: null,
      createdAt: new Date(),
    });
    await this.em.flush();
    return run;
  }

  /** Tags a scoring run may be limited to: active, of a suggestable category, and visible. */
  private async assertSuggestableTags(ids: readonly string[]): Promise<void> {
    const { tagIds: hidden } = await this.visibility.hiddenTaxonomy();
    const tags = await this.repository.tagsForScoring(ids, hidden);
    const byId = new Map(tags.map((t) => [t.id, t]));
    const unknown = ids.find((id) => !byId.has(id));
    if (unknown !== undefined) throw new NotFoundError('Tag', unknown, { field: 'input.tagIds' });
    for (const [i, id] of ids.entries()) {
      const tag = byId.get(id)!;
      if (tag.status !== TagStatus.ACTIVE) {
        throw new InvalidInputError(
          `input.tagIds[${i}]`,
          `input.tagIds[${i}]: tag "${tag.key}" is ${tag.status.toLowerCase()}`,
        );
      }
      if (!tag.suggestable) {
        throw new InvalidInputError(
          `input.tagIds[${i}]`,
          `input.tagIds[${i}]: tag "${tag.key}" is in category "${tag.categoryKey}", which is not suggestable`,
        );
      }
    }
  }

  async getRun(id: string): Promise<SuggestionRun> {
    const run = await this.em.findOne(SuggestionRun, { id: parseId(id, 'id') });
    if (!run) throw new NotFoundError('SuggestionRun', id);
    return run;
  }
}

function entries(claimed: readonly ClaimedSuggestion[], action: ReviewAction): ReviewEntry[] {
  return claimed.map((c) => ({ suggestionId: c.id, tagId: c.tagId, action }));
}
