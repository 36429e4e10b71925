import {
  LockMode,
  UniqueConstraintViolationException,
  type EntityManager,
} from '@mikro-orm/postgresql';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  parseId,
  parseIds,
} from '../common/domain.errors.js';
import { pageById, type Page, type PageRequest } from '../common/pagination.js';
import { bigintArray, likePattern } from '../common/sql.js';
import { snapshotSql } from '../tagging/tagging.repository.js';
import { normalizeDepartments, type Viewer } from '../auth/auth.service.js';
import { TagCategory } from './tag-category.entity.js';
import { Tag, TagStatus } from './tag.entity.js';
import { TaxonomyVisibility } from './visibility.js';
import type {
  CreateTagCategoryInput,
  CreateTagInput,
  MergeTagsArgs,
  TagFilter,
  UpdateTagInput,
} from './taxonomy.input.js';

const KEY_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N}_.:-]*$/u;

/** Keys are trimmed, lower-cased, with runs of whitespace turned into single dashes. */
export function normalizeKey(raw: string, field: string): string {
  const key = raw.trim().toLowerCase().replace(/\s+/gu, '-');
  if (key.length === 0 || key.length > 64 || !KEY_PATTERN.test(key)) {
    throw new InvalidInputError(
      field,
      `${field}: "${raw}" is not a valid key (letters, digits, - _ . :, starting with a letter or digit, at most 64 characters)`,
    );
  }
  return key;
}

export interface MergeOutcome {
  target: Tag;
  retired: Tag[];
  moved: number;
  duplicates: number;
}

export class TaxonomyService {
  constructor(
    private readonly em: EntityManager,
    private readonly visibility = TaxonomyVisibility.unrestricted(em),
  ) {}

  async listCategories(page: PageRequest): Promise<Page<TagCategory>> {
    const { categoryIds } = await this.visibility.hiddenTaxonomy();
    return pageById(this.em, TagCategory, { id: { $nin: categoryIds } }, page);
  }

  async listTags(filter: TagFilter | null | undefined, page: PageRequest): Promise<Page<Tag>> {
    const where: Record<string, unknown> = {
      id: { $nin: (await this.visibility.hiddenTaxonomy()).tagIds },
    };
    if (filter?.categoryId) where.categoryId = parseId(filter.categoryId, 'filter.categoryId');
    if (filter?.status) where.status = filter.status;
    if (filter?.search) {
      const pattern = likePattern(filter.search.toLowerCase());
      where.$or = [{ key: { $like: pattern } }, { name: { $ilike: pattern } }];
    }
    return pageById(this.em, Tag, where, page);
  }

  async getTag(id: string): Promise<Tag> {
    const tag = await this.em.findOne(Tag, { id: parseId(id, 'id') });
    if (!tag || (await this.visibility.isTagHidden(tag.id))) throw new NotFoundError('Tag', id);
    return tag;
  }

  async createCategory(input: CreateTagCategoryInput): Promise<TagCategory> {
    const key = normalizeKey(input.key ?? input.name, input.key ? 'input.key' : 'input.name');
    const category = new TagCategory(key, input.name.trim(), input.kind);
    category.description = input.description ?? null;
    category.exclusive = input.exclusive;
    category.suggestable = input.suggestable;
    category.departments = normalizeDepartments(input.departments, 'input.departments');
    if (input.parentId) {
      const parentId = parseId(input.parentId, 'input.parentId');
      if (!(await this.em.findOne(TagCategory, parentId))) {
        throw new InvalidInputError(
          'input.parentId',
          `input.parentId: category ${parentId} does not exist`,
        );
      }
      category.parentId = parentId;
    }
    return this.persistUnique(category, `A tag category with key "${key}" already exists`);
  }

  async createTag(input: CreateTagInput): Promise<Tag> {
    const key = normalizeKey(input.key ?? input.name, input.key ? 'input.key' : 'input.name');
    const categoryId = await this.requireCategory(input.categoryId, 'input.categoryId');
    const tag = new Tag(key, input.name.trim(), categoryId);
    tag.description = input.description ?? null;
    tag.color = input.color?.toLowerCase() ?? null;
    tag.learnFromRules = input.learnFromRules;
    tag.departments = normalizeDepartments(input.departments, 'input.departments');
    await this.assertRestrictable(this.em, tag);
    return this.persistUnique(tag, `A tag with key "${key}" already exists`);
  }

  async updateTag(id: string, input: UpdateTagInput): Promise<Tag> {
    return this.em.transactional(async (em) => {
      const tag = await em.findOne(
        Tag,
        { id: parseId(id, 'id') },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (!tag) throw new NotFoundError('Tag', id);
      if (input.key != null) tag.key = normalizeKey(input.key, 'input.key');
      if (input.name != null) tag.name = input.name.trim();
      if (input.description !== undefined) tag.description = input.description;
      if (input.color !== undefined) tag.color = input.color?.toLowerCase() ?? null;
      if (input.learnFromRules != null) tag.learnFromRules = input.learnFromRules;
      if (input.departments != null) {
        tag.departments = normalizeDepartments(input.departments, 'input.departments');
      }
      if (input.categoryId != null && input.categoryId !== tag.categoryId) {
        tag.categoryId = await this.requireCategory(input.categoryId, 'input.categoryId');
        await this.assertNoExclusiveClash(em, tag);
      }
      await this.assertRestrictable(em, tag);
      try {
        await em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) {
          throw new ConflictError(`A tag with key "${tag.key}" already exists`, {
            field: 'input.key',
          });
        }
        throw error;
      }
      return tag;
    });
  }

  async restrictCategory(id: string, departments: readonly string[]): Promise<TagCategory> {
    const category = await this.em.findOne(TagCategory, { id: parseId(id, 'id') });
    if (!category) throw new NotFoundError('TagCategory', id);
    category.departments = normalizeDepartments(departments, 'departments');
    await this.em.flush();
    return category;
  }

  /** Deprecated tags keep their assignments and history but can no longer be applied. */
  async deprecateTag(id: string): Promise<Tag> {
    const tag = await this.getTag(id);
    if (tag.status !== TagStatus.DEPRECATED) {
      tag.status = TagStatus.DEPRECATED;
      tag.deprecatedAt = new Date();
      await this.em.flush();
    }
    return tag;
  }

  /**
   * Moves every assignment of the sources to the target (a customer holding several keeps one),
   * records a MERGED history row per source assignment and retires the sources. Known negatives
   * move too, where the customer neither holds the target nor has a negative for it already; the
   * sources' pending suggestions are retired, and so are the target's for customers the merge gave
   * it (both by trigger). Tag rows are locked first so a concurrent applyTags cannot add to a
   * source mid-merge.
   */
  async mergeTags(args: MergeTagsArgs, viewer: Viewer): Promise<MergeOutcome> {
    const sourceIds = parseIds(args.sourceIds, 'sourceIds');
    const targetId = parseId(args.targetId, 'targetId');
    if (sourceIds.includes(targetId)) {
      throw new InvalidInputError('sourceIds', 'sourceIds must not contain the target');
    }
    return this.em.transactional(async (em) => {
      const locked = await em.execute<{ id: string }[]>(
        `select id from tag where id = any(?::bigint[]) order by id for update`,
        [bigintArray([...sourceIds, targetId])],
      );
      const tags = await em.find(Tag, { id: { $in: locked.map((r) => r.id) } });
      const byId = new Map(tags.map((t) => [t.id, t]));
      const target = byId.get(targetId);
      if (!target)
        throw new InvalidInputError('targetId', `targetId: tag ${targetId} does not exist`);
      if (target.status !== TagStatus.ACTIVE) {
        throw new InvalidInputError('targetId', `targetId: tag "${target.key}" is deprecated`);
      }
      const missing = sourceIds.filter((id) => !byId.has(id));
      if (missing.length > 0) {
        throw new InvalidInputError(
          'sourceIds',
          `sourceIds: unknown tag id(s) ${missing.join(', ')}`,
        );
      }
      const sources = sourceIds.map((id) => byId.get(id)!);
      const targetCategory = await em.findOneOrFail(TagCategory, target.categoryId);
      if (targetCategory.exclusive && sources.some((s) => s.categoryId !== target.categoryId)) {
        throw new InvalidInputError(
          'sourceIds',
          `sourceIds: the target's category "${targetCategory.key}" is exclusive; merge only tags of that category into it`,
        );
      }

      const [counts] = await em.execute<{ moved: number; duplicates: number }[]>(
        `with src as (
           delete from customer_tag where tag_id = any(?::bigint[]) returning *
         ),
         pick as (
           select distinct on (customer_id) * from src
           where not exists (
             select 1 from customer_tag held where held.customer_id = src.customer_id and held.tag_id = ?
           )
           order by customer_id, applied_at
         ),
         moved as (
           insert into customer_tag (customer_id, tag_id, source, confidence, model_version, applied_by, applied_at, note)
           select customer_id, ?, source, confidence, model_version, applied_by, applied_at, note from pick
           returning *
         ),
         history as (
           insert into tag_history (customer_id, tag_id, action, source, related_tag_id, before, after, actor, note)
           select src.customer_id, src.tag_id, 'MERGED', src.source, ?,
                  ${snapshotSql('src')},
                  case when moved.customer_id is null then null else ${snapshotSql('moved')} end,
                  ?, ?
           from src
           left join pick on pick.customer_id = src.customer_id and pick.tag_id = src.tag_id
           left join moved on moved.customer_id = pick.customer_id
           returning 1
         )
         select (select count(*) from moved)::int as moved,
                (select count(*) from src)::int - (select count(*) from moved)::int as duplicates,
                (select count(*) from history)::int as logged`,
        [bigintArray(sourceIds), targetId, targetId, targetId, viewer.name, args.note ?? null],
      );
      // After the assignments moved, so a customer who now holds the target keeps no negative.
      await em.execute(
        `with src as (
           delete from tag_negative where tag_id = any(?::bigint[]) returning *
         ),
         pick as (
           select distinct on (customer_id) * from src order by customer_id, created_at
         )
         insert into tag_negative (customer_id, tag_id, source, actor, created_at)
         select customer_id, ?, source, actor, created_at from pick
         where not exists (
           select 1 from customer_tag held where held.customer_id = pick.customer_id and held.tag_id = ?
         )
         on conflict do nothing`,
        [bigintArray(sourceIds), targetId, targetId],
      );
      const now = new Date();
      for (const source of sources) {
        source.status = TagStatus.DEPRECATED;
        source.mergedIntoId = targetId;
        source.deprecatedAt ??= now;
      }
      await em.flush();
      return { target, retired: sources, moved: counts!.moved, duplicates: counts!.duplicates };
    });
  }

  private async requireCategory(id: string, field: string): Promise<string> {
    const categoryId = parseId(id, field);
    if (!(await this.em.findOne(TagCategory, categoryId))) {
      throw new InvalidInputError(field, `${field}: category ${categoryId} does not exist`);
    }
    return categoryId;
  }

  /**
   * In an exclusive category applying one tag removes the customer's other: were one of them
   * hidden from the applier, a visible write would silently take away an invisible tag. So an
   * exclusive category is restricted as a whole, never tag by tag.
   */
  private async assertRestrictable(em: EntityManager, tag: Tag): Promise<void> {
    if (tag.departments.length === 0) return;
    const category = await em.findOneOrFail(TagCategory, tag.categoryId);
    if (category.exclusive) {
      throw new InvalidInputError(
        'input.departments',
        `input.departments: "${category.key}" is exclusive; restrict the category (restrictTagCategory), not one of its tags`,
      );
    }
  }

  /** Moving a tag into an exclusive category must not leave a customer with two of its tags. */
  private async assertNoExclusiveClash(em: EntityManager, tag: Tag): Promise<void> {
    const category = await em.findOneOrFail(TagCategory, tag.categoryId);
    if (!category.exclusive) return;
    const [clash] = await em.execute<{ n: number }[]>(
      `select count(*)::int as n from customer_tag mine
       join customer_tag other on other.customer_id = mine.customer_id and other.tag_id <> mine.tag_id
       join tag t on t.id = other.tag_id and t.category_id = ?
       where mine.tag_id = ?`,
      [category.id, tag.id],
    );
    if (clash!.n > 0) {
      throw new InvalidInputError(
        'input.categoryId',
        `input.categoryId: ${clash!.n} customer(s) would hold two tags of exclusive category "${category.key}"`,
      );
    }
  }

  private async persistUnique<T extends object>(entity: T, conflictMessage: string): Promise<T> {
    try {
      await this.em.persist(entity).flush();
      return entity;
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) {
        this.em.clear();
        throw new ConflictError(conflictMessage, { field: 'input.key' });
      }
      throw error;
    }
  }
}
