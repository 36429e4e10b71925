import { csvField } from '../common/csv.js';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  parseId,
} from '../common/domain.errors.js';
import {
  decodeIdCursor,
  encodeIdCursor,
  pageById,
  toPage,
  type Page,
} from '../common/pagination.js';
import type { PersonalDataService } from '../access/personal-data.service.js';
import type { CustomerRecord } from '../customer/customer.repository.js';
import { Rule } from '../rule/rule.entity.js';
import { normalizeKey } from '../taxonomy/taxonomy.service.js';
import {
  ConditionError,
  ConditionSyntaxError,
  parseCondition,
  printCondition,
  referencedSegments,
  validateCondition,
  type CompiledCondition,
  type Condition,
} from './condition/index.js';
import { conditionFromInput } from './condition.input.js';
import type {
  CreateSegmentInput,
  SegmentDefinitionInput,
  UpdateSegmentInput,
} from './segment.input.js';
import { Segment } from './segment.entity.js';
import { SegmentRepository, type ConditionEnvironment } from './segment.repository.js';
import { TaxonomyVisibility } from '../taxonomy/visibility.js';

export const PREVIEW_SAMPLE = 10;
const EXPORT_BATCH = 5000;
const EXPORT_COLUMNS = [
  'id',
  'externalId',
  'name',
  'email',
  'phone',
  'region',
  'city',
  'industry',
  'companySize',
  'lifecycleStage',
  'createdAt',
] as const;

export interface SegmentPreview {
  definition: Condition;
  text: string;
  count: number;
  sample: CustomerRecord[];
}

/** What depends on a segment: the segments and rules whose conditions reference it. */
export interface Dependants {
  segments: string[];
  rules: string[];
}

/**
 * The tree of a condition given as a GraphQL tree or as text under `path` (e.g. `input`), checked
 * against the environment and against what the caller's key may compare (personal data needs
 * PII). Every problem is reported at its input path.
 * @throws ConditionError, ConditionSyntaxError, InvalidInputError or ForbiddenError
 */
export async function readCondition(
  input: SegmentDefinitionInput,
  path: string,
  environment: ConditionEnvironment,
  options: { required: boolean; segmentKey?: string; access: PersonalDataService },
): Promise<Condition | null> {
  const given = [input.definition != null, input.text != null].filter(Boolean).length;
  if (given > 1) {
    throw new InvalidInputError(`${path}.text`, `${path}: give definition or text, not both`);
  }
  if (given === 0) {
    if (!options.required) return null;
    throw new InvalidInputError(`${path}.definition`, `${path}: give definition or text`);
  }
  let tree: Condition;
  let prefix: string;
  if (input.definition != null) {
    prefix = `${path}.definition`;
    tree = conditionFromInput(input.definition, prefix);
  } else {
    prefix = `${path}.text`;
    try {
      tree = parseCondition(input.text!);
    } catch (error) {
      if (error instanceof ConditionSyntaxError) {
        throw new ConditionSyntaxError(
          error.reason,
          error.position,
          error.line,
          error.column,
          prefix,
        );
      }
      if (error instanceof ConditionError) throw new ConditionError(error.issues, prefix);
      throw error;
    }
  }
  const issues = validateCondition(tree, {
    ...environment.schema,
    ...(options.segmentKey === undefined ? {} : { segmentKey: options.segmentKey }),
  });
  if (issues.length) throw new ConditionError(issues, prefix);
  // Comparisons on personal data would reveal values by probing: refused without PII.
  await options.access.assertMayUseCondition(tree, prefix);
  return tree;
}

export class SegmentService {
  private readonly repository: SegmentRepository;
  private environment: Promise<ConditionEnvironment> | null = null;

  constructor(
    private readonly em: EntityManager,
    private readonly access: PersonalDataService,
    private readonly visibility = TaxonomyVisibility.unrestricted(em),
  ) {
    this.repository = new SegmentRepository(em);
  }

  /**
   * Read once per request: the taxonomy, feature set and segments a condition is checked against,
   * as the caller's departments see them.
   */
  loadEnvironment(): Promise<ConditionEnvironment> {
    this.environment ??= this.repository.loadEnvironment(this.visibility);
    return this.environment;
  }

  async getSegment(id: string): Promise<Segment> {
    const segment = await this.em.findOne(Segment, { id: parseId(id, 'id') });
    if (!segment || (await this.isHidden(segment))) throw new NotFoundError('Segment', id);
    return segment;
  }

  async listSegments(first: number, after: string | null | undefined): Promise<Page<Segment>> {
    const { hiddenSegmentIds } = await this.loadEnvironment();
    return pageById(this.em, Segment, { id: { $nin: hiddenSegmentIds } }, { first, after });
  }

  /** A segment naming a tag or category the caller may not see is itself invisible. */
  private async isHidden(segment: Segment): Promise<boolean> {
    if (!this.visibility.restricted) return false;
    return (await this.loadEnvironment()).hiddenSegmentIds.includes(segment.id);
  }

  async createSegment(input: CreateSegmentInput, actor: string): Promise<Segment> {
    const key = normalizeKey(input.key, 'input.key');
    const environment = await this.loadEnvironment();
    if (environment.segments.has(key)) {
      throw new ConflictError(`a segment with key "${key}" exists`, { field: 'input.key' });
    }
    const definition = (await readCondition(input, 'input', environment, {
      required: true,
      segmentKey: key,
      access: this.access,
    }))!;
    const segment = new Segment(key, input.name.trim(), definition);
    segment.description = input.description ?? null;
    segment.createdBy = actor;
    await this.em.persist(segment).flush();
    this.environment = null;
    return segment;
  }

  async updateSegment(input: UpdateSegmentInput): Promise<Segment> {
    const segment = await this.getSegment(input.id);
    const environment = await this.loadEnvironment();
    const definition = await readCondition(input, 'input', environment, {
      required: false,
      segmentKey: segment.key,
      access: this.access,
    });
    if (definition) segment.definition = definition;
    if (input.name != null) segment.name = input.name.trim();
    if (input.description !== undefined) segment.description = input.description;
    await this.em.flush();
    this.environment = null;
    return segment;
  }

  /** @throws ConflictError listing the dependants while any segment or rule references it */
  async deleteSegment(id: string): Promise<Segment> {
    if (this.visibility.restricted) await this.loadEnvironment(); // before the transaction
    return this.em.transactional(async (em) => {
      const segment = await em.findOne(
        Segment,
        { id: parseId(id, 'id') },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (!segment || (await this.isHidden(segment))) throw new NotFoundError('Segment', id);
      const dependants = await this.dependants(em, segment.key);
      if (dependants.segments.length || dependants.rules.length) {
        const named = [
          ...dependants.segments.map((k) => `segment ${k}`),
          ...dependants.rules.map((n) => `rule ${n}`),
        ];
        throw new ConflictError(
          `segment "${segment.key}" is referenced by ${named.join(', ')}; change them first`,
          { dependants },
        );
      }
      await em.remove(segment).flush();
      return segment;
    });
  }

  async dependants(em: EntityManager, key: string): Promise<Dependants> {
    const segments = await em.find(Segment, { key: { $ne: key } }, { orderBy: { key: 'asc' } });
    const rules = await em.find(Rule, {}, { orderBy: { name: 'asc' } });
    return {
      segments: segments
        .filter((s) => referencedSegments(s.definition).includes(key))
        .map((s) => s.key),
      rules: rules.filter((r) => referencedSegments(r.definition).includes(key)).map((r) => r.name),
    };
  }

  async size(segment: Segment): Promise<number> {
    const environment = await this.loadEnvironment();
    return this.repository.count(environment.compile(segment.definition));
  }

  async members(
    definition: Condition,
    first: number,
    after: string | null | undefined,
  ): Promise<Page<CustomerRecord>> {
    const afterId = decodeIdCursor(after);
    const environment = await this.loadEnvironment();
    const compiled = environment.compile(definition);
    const rows = await this.repository.members(compiled, first + 1, afterId);
    return toPage(rows, first, encodeIdCursor, () => this.repository.count(compiled));
  }

  async previewSegment(given: SegmentDefinitionInput): Promise<SegmentPreview> {
    const environment = await this.loadEnvironment();
    // Errors name the path as clients wrote it: the query's argument is `definition`.
    const definition = (await readCondition(given, 'definition', environment, {
      required: true,
      access: this.access,
    }))!;
    const compiled = environment.compile(definition);
    const [count, sample] = await Promise.all([
      this.repository.count(compiled),
      this.repository.members(compiled, PREVIEW_SAMPLE, null),
    ]);
    return { definition, text: printCondition(definition), count, sample };
  }

  /**
   * The members of the segment `key` as CSV lines (header first), read in keyset batches so
   * memory stays flat however large the segment is. The condition is compiled once: members are
   * those matching each batch as it is read. Name, email and phone are as `access` may see them.
   * An unknown (or hidden) segment is refused here, before any line is streamed: once a pipeline
   * runs, its source's error would destroy standard output with it.
   */
  async exportMembers(key: string): Promise<AsyncGenerator<string>> {
    const environment = await this.loadEnvironment();
    const segment = environment.segments.get(key);
    if (!segment) throw new NotFoundError('Segment', key);
    const compiled = environment.compile(segment.definition);
    // Read before the first line goes out: a reader that leaves early (`| head`) closes the
    // database, and a query first issued after that waits for a connection forever.
    if (!this.access.mayReveal) await this.access.personalTraits();
    return this.memberLines(compiled);
  }

  private async *memberLines(compiled: CompiledCondition): AsyncGenerator<string> {
    yield `${EXPORT_COLUMNS.join(',')}\n`;
    let afterId: string | null = null;
    for (;;) {
      const rows = await this.repository.members(compiled, EXPORT_BATCH, afterId);
      if (rows.length === 0) return;
      const lines = await Promise.all(
        rows.map(async (row) => {
          const shown = { ...row, ...(await this.access.view(row)) };
          return `${EXPORT_COLUMNS.map((c) => csvField(shown[c])).join(',')}\n`;
        }),
      );
      yield lines.join('');
      afterId = rows.at(-1)!.id;
    }
  }
}
