import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { JobRunState } from '../common/job-run.entity.js';
import { Customer } from '../customer/customer.entity.js';
import { Tag } from '../taxonomy/tag.entity.js';
import type { Condition } from '../segment/condition/ast.js';

export enum RuleMode {
  /** Applies the tag to matching customers and never removes it. */
  APPLY_ONLY = 'APPLY_ONLY',
  /** Also removes the tag (when a rule applied it) from customers who no longer match. */
  APPLY_AND_RETRACT = 'APPLY_AND_RETRACT',
}

export enum RuleRunStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

export enum ConflictKind {
  /** The rule would remove a tag a reviewer approved or applied by hand. */
  RETRACT_APPROVED = 'RETRACT_APPROVED',
  /** The rule would apply a tag a reviewer rejected or corrected for this customer. */
  APPLY_REJECTED = 'APPLY_REJECTED',
  /** The rule's tag would replace a reviewer's tag of the same exclusive category. */
  REPLACE_APPROVED = 'REPLACE_APPROVED',
}

/** How a conflict was closed (resolveRuleConflict). */
export enum ConflictResolution {
  /**
   * The reviewer's decision stands: later runs do not raise the conflict again until the
   * customer's tag changes (see RuleRepository.apply).
   */
  KEEP_DECISION = 'KEEP_DECISION',
  /** The rule's change was made, attributed to the key that accepted it. */
  ACCEPT_RULE = 'ACCEPT_RULE',
}

/** A condition that applies (and optionally retracts) one tag; run set-based by rule.repository.ts. */
@Entity({ tableName: 'rule' })
export class Rule {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text', unique: true })
  name: string;

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Property({ type: 'jsonb' })
  definition: Condition;

  @ManyToOne(() => Tag, {
    mapToPk: true,
    type: 'bigint',
    fieldName: 'tag_id',
    deleteRule: 'restrict',
  })
  tagId: string;

  @Enum({ items: () => RuleMode, type: 'text' })
  mode: RuleMode = RuleMode.APPLY_ONLY;

  @Property({ type: 'boolean', default: true })
  enabled: boolean = true;

  /** Higher runs first; of two rules tagging one exclusive category, the higher one wins. */
  @Property({ type: 'integer', default: 0 })
  priority: number = 0;

  /** Also evaluated for the customers of newly recorded or imported events (source TRIGGER). */
  @Property({ type: 'boolean', default: false })
  trigger: boolean = false;

  @Property({ type: 'text', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  constructor(name: string, definition: Condition, tagId: string) {
    this.name = name;
    this.definition = definition;
    this.tagId = tagId;
  }
}

/** Per-rule outcome of a run, stored in rule_run.reports. */
export interface RuleReportData {
  ruleId: string;
  ruleName: string;
  tagKey: string;
  matched: number;
  added: number;
  removed: number;
  unchanged: number;
  conflicts: number;
  /** Absent from reports written before conflicts could be resolved. */
  kept?: number;
  /** Customer ids, at most 10 each. */
  sampleAdded: string[];
  sampleRemoved: string[];
  ms: number;
  /** Why the rule did not run, e.g. its condition no longer compiles. */
  error?: string;
}

/** What a rule run was asked to run. */
export interface RuleRunParams {
  /** Only these rules; absent: every enabled rule. */
  ruleIds?: string[];
}

/** One run of the enabled rules (or of some), on demand or after a feature refresh. */
@Entity({ tableName: 'rule_run' })
export class RuleRun extends JobRunState {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'boolean' })
  dryRun: boolean;

  @Property({ type: 'jsonb', defaultRaw: "'{}'::jsonb" })
  params: RuleRunParams = {};

  @Enum({ items: () => RuleRunStatus, type: 'text' })
  status: RuleRunStatus = RuleRunStatus.QUEUED;

  /** What started it: `api`, `cli`, `feature-refresh`, `demo`. */
  @Property({ type: 'text' })
  origin: string;

  @Property({ type: 'text', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'jsonb', defaultRaw: "'[]'::jsonb" })
  reports: RuleReportData[] = [];

  @Property({ type: 'text', nullable: true })
  error: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null = null;

  constructor(dryRun: boolean, origin: string) {
    super();
    this.dryRun = dryRun;
    this.origin = origin;
  }
}

/**
 * A rule disagreeing with a reviewer's decision. At most one open row per (rule, customer, tag,
 * kind): later runs that hit the same disagreement refresh `lastSeenAt` and `runId` instead of
 * piling up rows. A resolved row is never reopened; a later disagreement is a new conflict.
 */
@Entity({ tableName: 'rule_conflict' })
@Index({
  name: 'rule_conflict_open_uq',
  expression: `create unique index "rule_conflict_open_uq" on "rule_conflict" ("rule_id", "customer_id", "tag_id", "kind") where "resolved_at" is null`,
})
// What a run looks up for each disagreement it finds: whether a reviewer's decision was kept.
@Index({
  name: 'rule_conflict_kept_idx',
  expression: `create index "rule_conflict_kept_idx" on "rule_conflict" ("rule_id", "customer_id", "tag_id") where "resolution" = 'KEEP_DECISION'`,
})
@Index({ name: 'rule_conflict_rule_id_id_idx', properties: ['ruleId', 'id'] })
export class RuleConflict {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne(() => Rule, {
    mapToPk: true,
    type: 'bigint',
    fieldName: 'rule_id',
    deleteRule: 'cascade',
  })
  ruleId: string;

  // No foreign key (see migrations/*_customer_erasure.ts): a per-row check would lock a customer
  // row for every bulk-written row; a statement trigger on customer erases these rows instead.
  @ManyToOne(() => Customer, { createForeignKeyConstraint: false })
  customer!: Customer;

  @ManyToOne(() => Tag, {
    mapToPk: true,
    type: 'bigint',
    fieldName: 'tag_id',
    deleteRule: 'cascade',
  })
  tagId: string;

  @Enum({ items: () => ConflictKind, type: 'text' })
  kind: ConflictKind;

  @ManyToOne(() => RuleRun, {
    mapToPk: true,
    type: 'bigint',
    fieldName: 'run_id',
    nullable: true,
    deleteRule: 'set null',
  })
  runId: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  lastSeenAt: Date = new Date();

  @Enum({ items: () => ConflictResolution, type: 'text', nullable: true })
  resolution: ConflictResolution | null = null;

  /** Null while open. */
  @Property({ type: 'timestamptz', nullable: true })
  resolvedAt: Date | null = null;

  /** The name of the key that resolved it. */
  @Property({ type: 'text', nullable: true })
  resolvedBy: string | null = null;

  constructor(ruleId: string, tagId: string, kind: ConflictKind) {
    this.ruleId = ruleId;
    this.tagId = tagId;
    this.kind = kind;
  }
}
