import type { EntityManager } from '@mikro-orm/postgresql';
import { Role } from '../auth/api-key.entity.js';
import type { Viewer } from '../auth/auth.service.js';
import { bigintArray } from '../common/sql.js';

export interface HiddenTaxonomy {
  /** Tags the viewer may not see: restricted themselves or under a restricted category. */
  tagIds: string[];
  /** The hidden tags' keys, for what names tags by key (model metrics). */
  tagKeys: string[];
  categoryIds: string[];
}

const NOTHING_HIDDEN: HiddenTaxonomy = Object.freeze({
  tagIds: [],
  tagKeys: [],
  categoryIds: [],
}) as HiddenTaxonomy;

/**
 * What of the taxonomy one viewer may see. A restricted category or tag is invisible to keys of
 * other departments, not just unreadable: every path drops it as if it did not exist, so lists,
 * counts and "unknown tag" errors look the same whether a tag is hidden or absent. Paths ask for
 * the hidden ids (one statement per request, taxonomies being small) and exclude them in SQL.
 *
 * ADMIN sees everything, and so does a null viewer: the CLI and jobs run as the operator.
 */
export class TaxonomyVisibility {
  private hidden: Promise<HiddenTaxonomy> | null = null;

  constructor(
    private readonly em: EntityManager,
    private readonly viewer: Pick<Viewer, 'role' | 'departments'> | null,
  ) {}

  static unrestricted(em: EntityManager): TaxonomyVisibility {
    return new TaxonomyVisibility(em, null);
  }

  get restricted(): boolean {
    return this.viewer !== null && this.viewer.role !== Role.ADMIN;
  }

  hiddenTaxonomy(): Promise<HiddenTaxonomy> {
    if (!this.restricted) return Promise.resolve(NOTHING_HIDDEN);
    this.hidden ??= this.load(this.viewer!.departments);
    return this.hidden;
  }

  /** The hidden tag ids as a `{…}` literal, for `not tag_id = any(?::bigint[])`. */
  async hiddenTagIds(): Promise<string> {
    return bigintArray((await this.hiddenTaxonomy()).tagIds);
  }

  async isTagHidden(id: string): Promise<boolean> {
    return (await this.hiddenTaxonomy()).tagIds.includes(id);
  }

  /** The rows whose tag the viewer may see; the others dropped as absent ones would be. */
  async withoutHidden<T>(rows: T[], tagOf: (row: T) => string): Promise<T[]> {
    const { tagIds } = await this.hiddenTaxonomy();
    if (tagIds.length === 0) return rows;
    const hidden = new Set(tagIds);
    return rows.filter((row) => !hidden.has(tagOf(row)));
  }

  private async load(departments: readonly string[]): Promise<HiddenTaxonomy> {
    // A category is visible when it and every ancestor is unrestricted or shares a department.
    const rows = await this.em.execute<{ kind: 'category' | 'tag'; id: string; key: string }[]>(
      `with recursive cat as (
         select id, (departments = '{}' or departments && ?::text[]) as visible
         from tag_category where parent_id is null
         union all
         select c.id, cat.visible and (c.departments = '{}' or c.departments && ?::text[])
         from tag_category c join cat on c.parent_id = cat.id
       ),
       hidden_cat as (select id from cat where not visible)
       select 'category' as kind, id, null as key from hidden_cat
       union all
       select 'tag', t.id, t.key from tag t
       where not (t.departments = '{}' or t.departments && ?::text[])
          or t.category_id in (select id from hidden_cat)`,
      [departmentsParam(departments), departmentsParam(departments), departmentsParam(departments)],
    );
    if (rows.length === 0) return NOTHING_HIDDEN;
    const tags = rows.filter((r) => r.kind === 'tag');
    const tagIds = tags.map((r) => String(r.id));
    const categoryIds = rows.filter((r) => r.kind === 'category').map((r) => String(r.id));
    return { tagIds, tagKeys: tags.map((r) => r.key), categoryIds };
  }
}

/** Department keys are validated words (no quotes, commas or braces), so a literal is safe. */
function departmentsParam(departments: readonly string[]): string {
  return `{${departments.join(',')}}`;
}

/**
 * A copy of stored JSON (model params, summaries, metrics) without what names a hidden tag: in
 * every array, tag keys and `{ tag | key: <tag key> }` entries are dropped. Model versions are
 * trained over the whole taxonomy; this is how their reports stay within a reader's departments.
 */
export function withoutHiddenTags<T>(value: T, hiddenKeys: ReadonlySet<string>): T {
  if (hiddenKeys.size === 0) return value;
  const names = (item: unknown): boolean => {
    if (typeof item === 'string') return hiddenKeys.has(item);
    if (item && typeof item === 'object') {
      const { tag, key } = item as { tag?: unknown; key?: unknown };
      return (
        (typeof tag === 'string' && hiddenKeys.has(tag)) ||
        (typeof key === 'string' && hiddenKeys.has(key))
      );
    }
    return false;
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.filter((item) => !names(item)).map(walk);
    if (v && typeof v === 'object' && !(v instanceof Date)) {
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item)]));
    }
    return v;
  };
  return walk(value) as T;
}
