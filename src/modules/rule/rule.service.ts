import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import type { PersonalDataService } from '../access/personal-data.service.js';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  parseId,
  parseIds,
} from '../common/domain.errors.js';
import {
  decodeCursor,
  cursorId,
  decodeIdCursor,
  encodeCursor,
  encodeIdCursor,
  pageById,
  toPage,
  type Page,
} from '../common/pagination.js';
import {
  ConditionError,
  inlineSegments,
  visitCondition,
  type CompiledCondition,
  type Condition,
} from '../segment/condition/index.js';
import { readCondition } from '../segment/segment.service.js';
import { SegmentRepository, type ConditionEnvironment } from '../segment/segment.repository.js';
import { TagSource } from '../tagging/customer-tag.entity.js';
import { Tag, TagStatus } from '../taxonomy/tag.entity.js';
import type { CreateRuleInput, UpdateRuleInput } from './rule.input.js';
import {
  ConflictKind,
  ConflictResolution,
  Rule,
  RuleConflict,
  RuleMode,
  RuleRun,
  type RuleReportData,
} from './rule.entity.js';
import {
  claimConflict,
  findConflicts,
  markResolved,
  type ClaimedConflict,
  RuleRepository,
  runnerFor,
  type ConflictRecord,
  type RuleTarget,
  type SqlRunner,
} from './rule.repository.js';
import { TaxonomyVisibility } from '../taxonomy/visibility.js';
import { TaggingRepository, type Attribution } from '../tagging/tagging.repository.js';
import { bigintArray } from '../common/sql.js';

/** Where rule runs are queued; the job queue in the API process. */
export interface RuleQueue {
  enqueueRuleRun(runId: string): Promise<void>;
}

/** Whether a condition (its segments inlined) tests events: what makes a rule a trigger. */
export function testsEvents(condition: Condition): boolean {
  const walk = (c: Condition): boolean =>
    visitCondition<boolean>(c, {
      and: (operands) => operands.some(walk),
      or: (operands) => operands.some(walk),
      not: walk,
      events: () => true,
      tag: () => false,
      category: () => false,
      field: () => false,
      attribute: () => false,
      feature: () => false,
      cluster: () => false,
      segment: () => false,
    });
  return walk(condition);
}

interface RuleWithTarget {
  rule: Rule;
  target: RuleTarget;
}

export interface TriggerOutcome {
  /** Tags applied, over all trigger rules. */
  applied: number;
  conflicts: number;
}

export class RuleService {
  private hidden: Promise<string[]> | null = null;

  /** `access` decides which conditions the caller may write (personal data needs PII). */
  constructor(
    private readonly em: EntityManager,
    private readonly access: PersonalDataService,
    private readonly visibility = TaxonomyVisibility.unrestricted(em),
  ) {}

  async getRule(id: string): Promise<Rule> {
    const rule = await this.em.findOne(Rule, { id: parseId(id, 'id') });
    if (!rule || (await this.hiddenRuleIds()).includes(rule.id))
      throw new NotFoundError('Rule', id);
    return rule;
  }

  /**
   * Rules the caller may not see: those applying a hidden tag or whose condition names a hidden
   * tag, category or segment. Rules are few; once per request.
   */
  hiddenRuleIds(): Promise<string[]> {
    if (!this.visibility.restricted) return Promise.resolve([]);
    this.hidden ??= (async () => {
      const { tagIds } = await this.visibility.hiddenTaxonomy();
      if (tagIds.length === 0) return [];
      const environment = await new SegmentRepository(this.em).loadEnvironment(this.visibility);
      const rules = await this.em.find(Rule, {});
      return rules
        .filter((r) => tagIds.includes(r.tagId) || !environment.visible(r.definition))
        .map((r) => r.id);
    })();
    return this.hidden;
  }

  /** In the order they run: priority, highest first, then oldest first. */
  listRules(): Promise<Rule[]> {
    return this.em.find(Rule, {}, { orderBy: { priority: 'desc', id: 'asc' } });
  }

  async createRule(input: CreateRuleInput, actor: string): Promise<Rule> {
    const environment = await new SegmentRepository(this.em).loadEnvironment(this.visibility);
    const definition = (await readCondition(input, 'input', environment, {
      required: true,
      access: this.access,
    }))!;
    const tag = await this.activeTag(input.tagId, 'input.tagId');
    checkTrigger(input.trigger, definition, environment);
    await this.uniqueName(input.name.trim(), null);
    const rule = new Rule(input.name.trim(), definition, tag.id);
    rule.description = input.description ?? null;
    rule.mode = input.mode;
    rule.enabled = input.enabled;
    rule.priority = input.priority;
    rule.trigger = input.trigger;
    rule.createdBy = actor;
    await this.em.persist(rule).flush();
    return rule;
  }

  async updateRule(input: UpdateRuleInput): Promise<Rule> {
    const rule = await this.getRule(input.id);
    const environment = await new SegmentRepository(this.em).loadEnvironment(this.visibility);
    const definition = await readCondition(input, 'input', environment, {
      required: false,
      access: this.access,
    });
    if (definition) rule.definition = definition;
    if (input.tagId != null) rule.tagId = (await this.activeTag(input.tagId, 'input.tagId')).id;
    if (input.name != null) {
      await this.uniqueName(input.name.trim(), rule.id);
      rule.name = input.name.trim();
    }
    if (input.description !== undefined) rule.description = input.description;
    if (input.mode != null) rule.mode = input.mode;
    if (input.enabled != null) rule.enabled = input.enabled;
    if (input.priority != null) rule.priority = input.priority;
    if (input.trigger != null) rule.trigger = input.trigger;
    checkTrigger(rule.trigger, rule.definition, environment);
    await this.em.flush();
    return rule;
  }

  /**
   * Queues a run of every enabled rule, or of `ruleIds`; the returned run reports its progress and
   * outcome. Refused before anything is queued when a named rule is unknown (or hidden from the
   * caller, which reads the same) or disabled, or when there is no enabled rule to run.
   */
  async requestRun(
    request: { dryRun: boolean; ruleIds?: readonly string[] | null },
    actor: string,
    queue: RuleQueue,
  ): Promise<RuleRun> {
    const ruleIds = request.ruleIds ? parseIds(request.ruleIds, 'ruleIds') : null;
    if (ruleIds) await this.assertRunnable(ruleIds);
    else if ((await this.em.count(Rule, { enabled: true })) === 0) {
      throw new InvalidInputError(
        'ruleIds',
        'there is no enabled rule to run: create one (createRule) or enable one (updateRule)',
      );
    }
    const run = new RuleRun(request.dryRun, 'api');
    if (ruleIds) run.params = { ruleIds };
    run.createdBy = actor;
    await this.em.persist(run).flush();
    await queue.enqueueRuleRun(run.id);
    return run;
  }

  private async assertRunnable(ruleIds: readonly string[]): Promise<void> {
    if (ruleIds.length === 0) {
      throw new InvalidInputError('ruleIds', 'ruleIds: name at least one rule, or leave it out');
    }
    const hidden = await this.hiddenRuleIds();
    const rules = await this.em.find(Rule, { id: { $in: [...ruleIds], $nin: hidden } });
    const byId = new Map(rules.map((r) => [r.id, r]));
    const unknown = ruleIds.find((id) => !byId.has(id));
    if (unknown !== undefined) throw new NotFoundError('Rule', unknown, { field: 'ruleIds' });
    const disabled = ruleIds.findIndex((id) => !byId.get(id)!.enabled);
    if (disabled >= 0) {
      throw new InvalidInputError(
        `ruleIds[${disabled}]`,
        `ruleIds[${disabled}]: rule "${byId.get(ruleIds[disabled]!)!.name}" is disabled; enable it (updateRule) to run it`,
      );
    }
  }

  async getRun(id: string): Promise<RuleRun> {
    const run = await this.em.findOne(RuleRun, { id: parseId(id, 'id') });
    if (!run) throw new NotFoundError('RuleRun', id);
    return run;
  }

  async listRuns(first: number, after: string | null | undefined): Promise<Page<RuleRun>> {
    return pageById(this.em, RuleRun, {}, { first, after }, 'desc');
  }

  /**
   * Newest first, optionally of one rule or one run; `resolved` false lists the open ones, true
   * the resolved ones, null both.
   */
  async listConflicts(
    filter: { ruleId?: string | null; runId?: string | null; resolved: boolean | null },
    first: number,
    after: string | null | undefined,
  ): Promise<Page<ConflictRecord>> {
    const beforeId = decodeIdCursor(after);
    const hiddenRuleIds = await this.hiddenRuleIds();
    const where = {
      ruleId: filter.ruleId ? parseId(filter.ruleId, 'ruleId') : null,
      runId: filter.runId ? parseId(filter.runId, 'runId') : null,
      resolved: filter.resolved,
      hiddenRuleIds: bigintArray(hiddenRuleIds),
    };
    const rows = await findConflicts(this.em, where, first + 1, beforeId);
    return toPage(rows, first, encodeIdCursor, () =>
      this.em.count(RuleConflict, {
        ruleId: { $nin: hiddenRuleIds },
        ...(where.ruleId ? { ruleId: where.ruleId } : {}),
        ...(where.runId ? { runId: where.runId } : {}),
        ...(where.resolved === null ? {} : { resolvedAt: where.resolved ? { $ne: null } : null }),
      }),
    );
  }

  async getConflict(id: string): Promise<ConflictRecord> {
    const hiddenRuleIds = bigintArray(await this.hiddenRuleIds());
    const conflictId = parseId(id, 'id');
    const [row] = await findConflicts(
      this.em,
      { id: conflictId, resolved: null, hiddenRuleIds },
      1,
      null,
    );
    if (!row) throw new NotFoundError('RuleConflict', id);
    return row;
  }

  /**
   * Closes an open conflict, exactly once. KEEP_DECISION leaves the customer's tags as the
   * reviewer left them, and later runs do not raise the conflict again while that decision is
   * the customer's latest word on the tag (RuleRepository.apply). ACCEPT_RULE makes the change
   * the rule wanted when it last saw the conflict — applies its tag (replacing the category's
   * other in an exclusive one) or retracts it — with source RULE, attributed to `actor`.
   * NOT_FOUND for an unknown conflict or one of a rule hidden from the caller; CONFLICT when
   * someone resolved it first (naming who), or when accepting would apply a tag deprecated since.
   */
  async resolveConflict(
    id: string,
    resolution: ConflictResolution,
    actor: string,
  ): Promise<ConflictRecord> {
    const conflictId = parseId(id, 'id');
    const hidden = await this.hiddenRuleIds(); // read before the transaction holds a connection
    await this.em.transactional(async (tx) => {
      const claimed = await claimConflict(tx, conflictId);
      if (!claimed || hidden.includes(claimed.ruleId)) throw new NotFoundError('RuleConflict', id);
      if (claimed.resolvedAt) {
        throw new ConflictError(
          `Rule conflict ${id} was already resolved: ${claimed.resolution} by ${claimed.resolvedBy} at ${claimed.resolvedAt.toISOString()}`,
          { resolution: claimed.resolution, resolvedBy: claimed.resolvedBy },
        );
      }
      if (resolution === ConflictResolution.ACCEPT_RULE) {
        await acceptRuleChange(tx, claimed, actor);
      }
      await markResolved(tx, claimed.id, resolution, actor);
    });
    return this.getConflict(conflictId);
  }

  /** Rules in the order they run: priority (highest first), then id. */
  async listRulePage(first: number, after: string | null | undefined): Promise<Page<Rule>> {
    const [priority, id] = after ? decodeCursor(after, 2) : [null, null];
    if (after && !Number.isSafeInteger(priority)) {
      throw new InvalidInputError('after', 'after: not a cursor from this list');
    }
    const visible = { id: { $nin: await this.hiddenRuleIds() } };
    const rows = await this.em.find(
      Rule,
      after
        ? {
            ...visible,
            $or: [
              { priority: { $lt: Number(priority) } },
              { priority: Number(priority), id: { $gt: cursorId(id) } },
            ],
          }
        : visible,
      { orderBy: { priority: 'desc', id: 'asc' }, limit: first + 1 },
    );
    return toPage(
      rows,
      first,
      (r) => encodeCursor([r.priority, Number(r.id)]),
      () => this.em.count(Rule, visible),
    );
  }

  /**
   * Runs every enabled rule of a claimed run (or the run's `ruleIds`), highest priority first, in
   * one transaction, and ends the run through `lifecycle.complete` inside that transaction, so the
   * tags and the run's end land together (a retried run applies nothing twice). A dry run does
   * all the work and rolls it back, so its counts are exactly what a real run would do; it ends
   * afterwards. A named rule disabled since the run was queued is reported, not run. Failures
   * propagate: the caller records them on the run.
   */
  async executeRun(runId: string, lifecycle: RuleRunLifecycle): Promise<RuleRun> {
    const run = await this.em.findOneOrFail(RuleRun, { id: runId });
    const reports: RuleReportData[] = [];
    await this.em
      .transactional(async (tx) => {
        // One run at a time (a feature refresh's and an API or CLI one): the second waits for
        // the first to commit, then reads rules and tags afresh and finds nothing left to do.
        // Without it both would insert the same tags and conflicts around each other.
        await tx.execute(`select pg_advisory_xact_lock(hashtext('rule_run'))`);
        const { ruleIds } = run.params;
        const named = ruleIds ? await loadRules(tx, { id: { $in: ruleIds } }) : [];
        for (const { rule, target } of named.filter(({ rule }) => !rule.enabled)) {
          reports.push({
            ...emptyReport({ ruleId: rule.id, ruleName: rule.name, tagKey: target.tagKey }),
            error: 'disabled after the run was queued',
            ms: 0,
          });
        }
        const rules = ruleIds
          ? named.filter(({ rule }) => rule.enabled)
          : await loadRules(tx, { enabled: true });
        const environment = await new SegmentRepository(tx).loadEnvironment();
        const repository = new RuleRepository(runnerFor(tx));
        await repository.prepare();
        lifecycle.onProgress?.(0, rules.length);
        for (const [i, { rule, target }] of rules.entries()) {
          // Cancelled or taken away: the transaction rolls back, nothing of the run is kept.
          lifecycle.signal?.throwIfAborted();
          const started = Date.now();
          const base = { ruleId: rule.id, ruleName: rule.name, tagKey: target.tagKey };
          let compiled: CompiledCondition;
          try {
            compiled = environment.compile(rule.definition);
          } catch (error) {
            // A rule broken by a later taxonomy change must not stop the others.
            if (!(error instanceof ConditionError)) throw error;
            reports.push({ ...emptyReport(base), error: error.message, ms: 0 });
            continue;
          }
          const outcome = await repository.apply(target, compiled, {
            source: TagSource.RULE,
            retract: rule.mode === RuleMode.APPLY_AND_RETRACT,
            runId: run.dryRun ? null : run.id,
            claim: claimedLater(rules, i),
          });
          reports.push({ ...base, ...outcome, ms: Date.now() - started });
          lifecycle.onProgress?.(i + 1, rules.length);
        }
        if (run.dryRun) throw new DryRunRollback();
        await lifecycle.complete(reports, tx);
      })
      .catch(async (error: unknown) => {
        if (!(error instanceof DryRunRollback)) throw error;
        await lifecycle.complete(reports, this.em);
      });
    return this.em.fork().findOneOrFail(RuleRun, { id: runId });
  }

  private async activeTag(id: string, field: string): Promise<Tag> {
    const tag = await this.em.findOne(Tag, { id: parseId(id, field) });
    if (!tag || (await this.visibility.isTagHidden(tag.id)))
      throw new InvalidInputError(field, `${field}: tag ${id} does not exist`);
    if (tag.status !== TagStatus.ACTIVE) {
      throw new InvalidInputError(
        field,
        `${field}: tag "${tag.key}" is ${tag.status.toLowerCase()}`,
      );
    }
    return tag;
  }

  private async uniqueName(name: string, exceptId: string | null): Promise<void> {
    const existing = await this.em.findOne(Rule, { name });
    if (existing && existing.id !== exceptId) {
      throw new ConflictError(`a rule named "${name}" exists`, { field: 'input.name' });
    }
  }
}

/** How a rule run is driven: its holder's cancellation signal, progress, and its end. */
export interface RuleRunLifecycle {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Ends the run as SUCCEEDED with its reports, on `em` (the run's transaction unless dry). */
  complete(reports: RuleReportData[], em: EntityManager): Promise<void>;
}

class DryRunRollback extends Error {}

/** Whether a rule after the i-th tags the same exclusive category (see ApplyOptions.claim). */
function claimedLater(rules: readonly { target: RuleTarget }[], i: number): boolean {
  const { exclusive, categoryId } = rules[i]!.target;
  return exclusive && rules.slice(i + 1).some((r) => r.target.categoryId === categoryId);
}

function emptyReport(base: { ruleId: string; ruleName: string; tagKey: string }) {
  return {
    ...base,
    matched: 0,
    added: 0,
    removed: 0,
    unchanged: 0,
    conflicts: 0,
    kept: 0,
    sampleAdded: [],
    sampleRemoved: [],
  };
}

/** The change a conflict withheld, made now: source RULE, by the key that accepted it. */
async function acceptRuleChange(
  em: EntityManager,
  conflict: ClaimedConflict,
  actor: string,
): Promise<void> {
  const tagging = new TaggingRepository(em);
  const [tag] = await tagging.lockTags([conflict.tagId]);
  await tagging.lockCustomers([conflict.customerId]);
  const by: Attribution = {
    source: TagSource.RULE,
    actor,
    note: `accepted rule:${conflict.ruleName} (rule ${conflict.ruleId}, conflict ${conflict.id})`,
    confidence: null,
    modelVersion: null,
  };
  const [customerIds, tagIds] = [[conflict.customerId], [conflict.tagId]];
  if (conflict.kind === ConflictKind.RETRACT_APPROVED) {
    await tagging.deleteAssignments(customerIds, tagIds, by);
    return;
  }
  if (tag!.status !== TagStatus.ACTIVE) {
    throw new ConflictError(
      `Tag "${tag!.key}" is ${tag!.status.toLowerCase()} since the conflict was raised; keep the decision instead`,
    );
  }
  await tagging.replaceExclusive(customerIds, tagIds, by);
  await tagging.insertAssignments(customerIds, tagIds, by);
}

function checkTrigger(trigger: boolean, definition: Condition, env: ConditionEnvironment): void {
  if (!trigger) return;
  const resolve = env.schema.resolveSegment;
  if (!testsEvents(inlineSegments(definition, resolve))) {
    throw new InvalidInputError(
      'input.trigger',
      'input.trigger: a trigger rule needs an event condition (e.g. event:EVENT_REGISTRATION within 1d)',
    );
  }
}

async function loadRules(
  em: EntityManager,
  where: FilterQuery<Rule>,
): Promise<(RuleWithTarget & { target: RuleTarget & { tagKey: string } })[]> {
  const rules = await em.find(Rule, where, { orderBy: { priority: 'desc', id: 'asc' } });
  if (rules.length === 0) return [];
  const tags = await em.execute<
    { id: string; key: string; categoryId: string; exclusive: boolean }[]
  >(
    `select t.id, t.key, t.category_id as "categoryId", c.exclusive
     from tag t join tag_category c on c.id = t.category_id where t.id = any(?::bigint[])`,
    [`{${[...new Set(rules.map((r) => r.tagId))].join(',')}}`],
  );
  const byId = new Map(tags.map((t) => [String(t.id), t]));
  return rules.map((rule) => {
    const tag = byId.get(rule.tagId)!;
    return {
      rule,
      target: {
        ruleId: rule.id,
        ruleName: rule.name,
        tagId: rule.tagId,
        tagKey: tag.key,
        categoryId: String(tag.categoryId),
        exclusive: tag.exclusive,
      },
    };
  });
}

/**
 * Applies the enabled trigger rules to the customers `restrict` selects (those of just-recorded
 * events), with source TRIGGER, on `sql` — the connection of the caller's transaction, so the
 * tags commit or roll back with the events. Rules and taxonomy are read through `em`.
 */
export async function applyTriggerRules(
  em: EntityManager,
  sql: SqlRunner,
  restrict: CompiledCondition,
): Promise<TriggerOutcome> {
  const rules = (await loadRules(em, { enabled: true, trigger: true })).filter(({ rule }) =>
    testsEvents(rule.definition),
  );
  const outcome: TriggerOutcome = { applied: 0, conflicts: 0 };
  if (rules.length === 0) return outcome;
  const environment = await new SegmentRepository(em).loadEnvironment();
  const repository = new RuleRepository(sql);
  await repository.prepare();
  for (const [i, { rule, target }] of rules.entries()) {
    let compiled: CompiledCondition;
    try {
      compiled = environment.compile(rule.definition);
    } catch (error) {
      if (error instanceof ConditionError) continue;
      throw error;
    }
    const result = await repository.apply(target, compiled, {
      source: TagSource.TRIGGER,
      retract: false,
      restrict,
      runId: null,
      claim: claimedLater(rules, i),
    });
    outcome.applied += result.added;
    outcome.conflicts += result.conflicts;
  }
  await sql(`truncate rule_claim`, []);
  return outcome;
}
