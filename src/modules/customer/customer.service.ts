import type { EntityManager } from '@mikro-orm/postgresql';
import type { PersonalDataService } from '../access/personal-data.service.js';
import { groupBy } from '../common/collections.js';
import { InvalidInputError, NotFoundError, parseId, parseIds } from '../common/domain.errors.js';
import type { Page, PageRequest } from '../common/pagination.js';
import { bigintArray } from '../common/sql.js';
import {
  CustomerOrderField,
  OrderDirection,
  type CustomerFilter,
  type CustomerInput,
  type CustomerOrder,
} from './customer.input.js';
import { TaxonomyVisibility } from '../taxonomy/visibility.js';
import { TaggingRepository, type AppliedTagRow } from '../tagging/tagging.repository.js';
import {
  CustomerRepository,
  type CustomerRecord,
  type ResolvedCustomerFilter,
} from './customer.repository.js';

export const MAX_UPSERT = 10_000;
const MAX_ATTRIBUTES = 200;
/** Like recordEvents: a first-seen date more than a day ahead of the clock is a mistake. */
const FUTURE_TOLERANCE_MS = 24 * 3600 * 1000;
/** The years file imports read (DateFormat): what PostgreSQL and tenure arithmetic both take. */
const EARLIEST_FIRST_SEEN = Date.UTC(1000, 0, 1);

export interface UpsertOutcome {
  created: number;
  updated: number;
  unchanged: number;
}

export class CustomerService {
  private readonly repository: CustomerRepository;

  /** `access` decides which filters the caller may use (probing personal data needs PII). */
  constructor(
    private readonly em: EntityManager,
    private readonly access: PersonalDataService,
    private readonly visibility = TaxonomyVisibility.unrestricted(em),
  ) {
    this.repository = new CustomerRepository(em);
  }

  async getCustomer(id: string): Promise<CustomerRecord> {
    const customer = await this.repository.findById(parseId(id, 'id'));
    if (!customer) throw new NotFoundError('Customer', id);
    return customer;
  }

  /**
   * A page of customers; with `withTags` each carries its applied tags (with tag and category)
   * from one more statement, so a list screen costs two queries however it is rendered.
   */
  async listCustomers(
    filter: CustomerFilter | null | undefined,
    orderBy: CustomerOrder | null | undefined,
    page: PageRequest,
    { withTags = false }: { withTags?: boolean } = {},
  ): Promise<Page<CustomerRecord & { tags?: AppliedTagRow[] }>> {
    await this.access.assertMayFilter(filter, orderBy);
    const order = {
      field: orderBy?.field ?? CustomerOrderField.CREATED_AT,
      direction: orderBy?.direction ?? OrderDirection.ASC,
    };
    const result = await this.repository.findPage(
      await this.resolveFilter(filter),
      order,
      page.first,
      page.after,
    );
    if (!withTags || result.nodes.length === 0) return result;
    const tags = groupBy(
      await new TaggingRepository(this.em).findTagsByCustomerIds(
        result.nodes.map((c) => c.id),
        await this.visibility.hiddenTagIds(),
      ),
      (t) => t.customerId,
    );
    return { ...result, nodes: result.nodes.map((c) => ({ ...c, tags: tags.get(c.id) ?? [] })) };
  }

  /** Creates or updates by externalId in one transaction; all rows or none. */
  async upsertCustomers(input: CustomerInput[]): Promise<UpsertOutcome> {
    if (input.length === 0) return { created: 0, updated: 0, unchanged: 0 };
    if (input.length > MAX_UPSERT) {
      throw new InvalidInputError(
        'input',
        `at most ${MAX_UPSERT} customers per call (got ${input.length})`,
      );
    }
    const seen = new Map<string, number>();
    const rows = input.map((row, i) => {
      const externalId = row.externalId.trim();
      if (externalId.length === 0) {
        throw new InvalidInputError(
          `input[${i}].externalId`,
          `input[${i}].externalId must not be blank`,
        );
      }
      const earlier = seen.get(externalId);
      if (earlier !== undefined) {
        throw new InvalidInputError(
          `input[${i}].externalId`,
          `input[${i}].externalId "${externalId}" repeats input[${earlier}]`,
        );
      }
      seen.set(externalId, i);
      validateAttributes(row.attributes, `input[${i}].attributes`);
      validateFirstSeenAt(row.firstSeenAt, `input[${i}].firstSeenAt`);
      // null attributes mean "no change", like an omitted field.
      const { attributes, ...rest } = row;
      return { ...rest, externalId, ...(attributes == null ? {} : { attributes }) };
    });
    const { created, updated } = await this.em.transactional((em) =>
      new CustomerRepository(em).upsert(rows),
    );
    return { created, updated, unchanged: rows.length - created - updated };
  }

  /** Validates filter ids and checks they exist: a typo must not silently match nobody. */
  private async resolveFilter(
    filter: CustomerFilter | null | undefined,
  ): Promise<ResolvedCustomerFilter | null> {
    if (!filter) return null;
    const hidden = await this.visibility.hiddenTaxonomy();
    const tags = filter.tags
      ? {
          allOf: parseIds(filter.tags.allOf ?? [], 'filter.tags.allOf'),
          anyOf: parseIds(filter.tags.anyOf ?? [], 'filter.tags.anyOf'),
          noneOf: parseIds(filter.tags.noneOf ?? [], 'filter.tags.noneOf'),
        }
      : null;
    if (tags) {
      const all = [...tags.allOf, ...tags.anyOf, ...tags.noneOf];
      const known = new Set(
        (
          await this.em.execute<{ id: string }[]>(
            `select id from tag where id = any(?::bigint[]) and not id = any(?::bigint[])`,
            [bigintArray(all), bigintArray(hidden.tagIds)],
          )
        ).map((r) => r.id),
      );
      for (const part of ['allOf', 'anyOf', 'noneOf'] as const) {
        const unknown = tags[part].filter((id) => !known.has(id));
        if (unknown.length > 0) {
          throw new InvalidInputError(
            `filter.tags.${part}`,
            `filter.tags.${part}: unknown tag id(s) ${unknown.join(', ')}`,
          );
        }
      }
    }
    let tagCategoryId: string | null = null;
    if (filter.tagCategoryId) {
      tagCategoryId = parseId(filter.tagCategoryId, 'filter.tagCategoryId');
      const [found] = await this.em.execute(`select 1 from tag_category where id = ?`, [
        tagCategoryId,
      ]);
      if (!found || hidden.categoryIds.includes(tagCategoryId)) {
        throw new InvalidInputError(
          'filter.tagCategoryId',
          `filter.tagCategoryId: category ${tagCategoryId} does not exist`,
        );
      }
    }
    return { ...filter, tags, tagCategoryId, hiddenTagIds: bigintArray(hidden.tagIds) };
  }
}

function validateFirstSeenAt(firstSeenAt: Date | null | undefined, field: string): void {
  if (firstSeenAt == null) return;
  const ms = firstSeenAt.getTime();
  if (ms < EARLIEST_FIRST_SEEN) {
    throw new InvalidInputError(field, `${field}: must be in the year 1000 or later`);
  }
  if (ms > Date.now() + FUTURE_TOLERANCE_MS) {
    throw new InvalidInputError(field, `${field} lies in the future`);
  }
}

function validateAttributes(attributes: unknown, field: string): void {
  if (attributes == null) return;
  const entries = Object.entries(attributes as Record<string, unknown>);
  if (entries.length > MAX_ATTRIBUTES) {
    throw new InvalidInputError(field, `${field}: at most ${MAX_ATTRIBUTES} keys`);
  }
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > 100) {
      throw new InvalidInputError(field, `${field}: keys must be 1 to 100 characters`);
    }
    const ok =
      value === null ||
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value));
    if (!ok) {
      throw new InvalidInputError(
        `${field}.${key}`,
        `${field}.${key}: traits are numbers, strings, booleans or ISO dates, not ${Array.isArray(value) ? 'lists' : typeof value}`,
      );
    }
  }
}
