import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidInputError, parseIds } from '../common/domain.errors.js';
import { TagStatus } from '../taxonomy/tag.entity.js';
import { TagSource } from './customer-tag.entity.js';
import { TaxonomyVisibility } from '../taxonomy/visibility.js';
import { TaggingRepository, type Attribution, type TagForApply } from './tagging.repository.js';

/** Largest customers × tags product one call may touch. */
export const MAX_PAIRS = 10_000;

export interface TagChangeRequest {
  customerIds: readonly string[];
  tagIds: readonly string[];
  note?: string | null;
}

export interface ApplyOutcome {
  applied: number;
  unchanged: number;
  replaced: number;
}

export interface RemoveOutcome {
  removed: number;
  notPresent: number;
}

export interface Actor {
  actor: string | null;
  source?: TagSource;
  confidence?: number | null;
  modelVersion?: string | null;
}

export class TaggingService {
  constructor(
    private readonly em: EntityManager,
    private readonly visibility = TaxonomyVisibility.unrestricted(em),
  ) {}

  /**
   * Applies every tag to every customer in one transaction. Already-held pairs are left as they
   * are (idempotent); in an exclusive category the new tag replaces the customer's current one.
   */
  async applyTags(request: TagChangeRequest, actor: Actor): Promise<ApplyOutcome> {
    const { customerIds, tagIds } = this.validatePairs(request);
    const by = this.attribution(request, actor);
    await this.visibility.hiddenTaxonomy(); // read before the transaction holds a connection
    return this.em.transactional(async (em) => {
      const repository = new TaggingRepository(em);
      const tags = await this.visibility.withoutHidden(
        await repository.lockTags(tagIds),
        (t) => t.id,
      );
      this.assertApplicable(tagIds, tags);
      await this.assertCustomersExist(repository, customerIds);
      const replaced = await repository.replaceExclusive(customerIds, tagIds, by);
      const applied = await repository.insertAssignments(customerIds, tagIds, by);
      return { applied, replaced, unchanged: customerIds.length * tagIds.length - applied };
    });
  }

  /** Removes the pairs that are held; deprecated tags can still be removed. */
  async removeTags(request: TagChangeRequest, actor: Actor): Promise<RemoveOutcome> {
    const { customerIds, tagIds } = this.validatePairs(request);
    const by = this.attribution(request, actor);
    await this.visibility.hiddenTaxonomy(); // read before the transaction holds a connection
    return this.em.transactional(async (em) => {
      const repository = new TaggingRepository(em);
      const tags = await this.visibility.withoutHidden(
        await repository.lockTags(tagIds),
        (t) => t.id,
      );
      this.assertKnownTags(tagIds, tags);
      await this.assertCustomersExist(repository, customerIds);
      const removed = await repository.deleteAssignments(customerIds, tagIds, by);
      return { removed, notPresent: customerIds.length * tagIds.length - removed };
    });
  }

  private validatePairs(request: TagChangeRequest): { customerIds: string[]; tagIds: string[] } {
    if (request.customerIds.length === 0) {
      throw new InvalidInputError('customerIds', 'customerIds must not be empty');
    }
    if (request.tagIds.length === 0)
      throw new InvalidInputError('tagIds', 'tagIds must not be empty');
    const customerIds = parseIds(request.customerIds, 'customerIds');
    const tagIds = parseIds(request.tagIds, 'tagIds');
    if (customerIds.length * tagIds.length > MAX_PAIRS) {
      throw new InvalidInputError(
        'customerIds',
        `at most ${MAX_PAIRS} customer × tag pairs per call (got ${customerIds.length} × ${tagIds.length})`,
      );
    }
    if (request.note != null && request.note.length > 2000) {
      throw new InvalidInputError('note', 'note must be at most 2000 characters');
    }
    return { customerIds, tagIds };
  }

  private attribution(request: TagChangeRequest, actor: Actor): Attribution {
    return {
      source: actor.source ?? TagSource.MANUAL,
      actor: actor.actor,
      note: request.note ?? null,
      confidence: actor.confidence ?? null,
      modelVersion: actor.modelVersion ?? null,
    };
  }

  private assertKnownTags(tagIds: string[], tags: TagForApply[]): void {
    const known = new Set(tags.map((t) => t.id));
    const unknown = tagIds.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new InvalidInputError('tagIds', `tagIds: unknown tag id(s) ${unknown.join(', ')}`, {
        ids: unknown,
      });
    }
  }

  private assertApplicable(tagIds: string[], tags: TagForApply[]): void {
    this.assertKnownTags(tagIds, tags);
    const deprecated = tags.filter((t) => t.status !== TagStatus.ACTIVE);
    if (deprecated.length > 0) {
      throw new InvalidInputError(
        'tagIds',
        `tagIds: deprecated tag(s) cannot be applied: ${deprecated.map((t) => `${t.key} (${t.id})`).join(', ')}`,
        { ids: deprecated.map((t) => t.id) },
      );
    }
    const seen = new Map<string, TagForApply>();
    for (const tag of tags.filter((t) => t.exclusive)) {
      const other = seen.get(tag.categoryId);
      if (other) {
        throw new InvalidInputError(
          'tagIds',
          `tagIds: ${other.key} and ${tag.key} are both in exclusive category ${tag.categoryKey}; a customer holds at most one`,
        );
      }
      seen.set(tag.categoryId, tag);
    }
  }

  private async assertCustomersExist(
    repository: TaggingRepository,
    customerIds: string[],
  ): Promise<void> {
    const found = new Set(await repository.lockCustomers(customerIds));
    const unknown = customerIds.filter((id) => !found.has(id));
    if (unknown.length > 0) {
      const shown =
        unknown.slice(0, 20).join(', ') +
        (unknown.length > 20 ? `, … (${unknown.length} in all)` : '');
      throw new InvalidInputError('customerIds', `customerIds: unknown customer id(s) ${shown}`, {
        ids: unknown.slice(0, 100),
      });
    }
  }
}
