import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { JobRunState } from '../common/job-run.entity.js';
import { Customer } from '../customer/customer.entity.js';
import { Cluster, ModelVersion } from '../model-registry/model-version.entity.js';
import { Tag } from '../taxonomy/tag.entity.js';

export enum SuggestionStatus {
  PENDING = 'PENDING',
  APPROVED = 'APPROVED',
  REJECTED = 'REJECTED',
  /** Rejected in favour of another tag of the same category (correctedTag). */
  CORRECTED = 'CORRECTED',
  /** A newer scoring run replaced it before anyone decided. */
  SUPERSEDED = 'SUPERSEDED',
  /** Applied by the tag's auto-apply policy without review. */
  AUTO_APPLIED = 'AUTO_APPLIED',
  /**
   * No longer a question before anyone decided: the customer received the tag by other means, or
   * the tag was deprecated or merged away.
   */
  RETIRED = 'RETIRED',
}

export enum SuggestionSource {
  /** The classifier scored the tag above its calibrated threshold. */
  MODEL = 'MODEL',
  /** The customer's cluster is mapped to the tag (mapClusterToTag). */
  CLUSTER = 'CLUSTER',
}

export enum SuggestionKind {
  /** The customer holds nothing that conflicts: approving adds the tag. */
  ADD = 'ADD',
  /** The customer holds another tag of the same exclusive category: approving replaces it. */
  CORRECTION = 'CORRECTION',
}

export interface SuggestionExplanation {
  /** Stored for CLUSTER suggestions only; derived from the contributions for MODEL ones. */
  text?: string;
  cluster?: string | null;
  /** Without direction (the sign of the contribution) when written by a scoring run. */
  contributions?: { feature: string; direction?: string; contribution: number; text: string }[];
  /** Held-out precision of the tag's suggestions at or above this one's confidence. */
  precision?: number;
  /** Whether that precision is a PU estimate rather than counted on known labels. */
  precisionEstimated?: boolean;
}

/**
 * A proposed tag awaiting (or past) a reviewer's decision. Written set-based by scoring runs;
 * decided by `update … where status = 'PENDING'`, so each is decided exactly once.
 */
@Entity({ tableName: 'tag_suggestion' })
// Every queue index covers PENDING rows only: a scoring run inserts a million rows through each
// index it has, and deciding or superseding a row then leaves these indexes alone.
@Index({
  name: 'tag_suggestion_pending_uq',
  expression: `create unique index "tag_suggestion_pending_uq" on "tag_suggestion" ("customer_id", "tag_id") where status = 'PENDING'`,
})
@Index({
  name: 'tag_suggestion_pending_margin_idx',
  expression: `create index "tag_suggestion_pending_margin_idx" on "tag_suggestion" ("margin", "id") where status = 'PENDING'`,
})
@Index({
  name: 'tag_suggestion_pending_confidence_idx',
  expression: `create index "tag_suggestion_pending_confidence_idx" on "tag_suggestion" ("confidence", "id") where status = 'PENDING'`,
})
@Index({
  name: 'tag_suggestion_pending_value_idx',
  expression: `create index "tag_suggestion_pending_value_idx" on "tag_suggestion" ("customer_value", "id") where status = 'PENDING'`,
})
@Index({
  name: 'tag_suggestion_pending_id_idx',
  expression: `create index "tag_suggestion_pending_id_idx" on "tag_suggestion" ("id") where status = 'PENDING'`,
})
@Index({
  name: 'tag_suggestion_rejected_idx',
  expression: `create index "tag_suggestion_rejected_idx" on "tag_suggestion" ("customer_id", "tag_id", "reviewed_at") where status in ('REJECTED', 'CORRECTED')`,
})
@Index({
  name: 'tag_suggestion_decided_idx',
  expression: `create index "tag_suggestion_decided_idx" on "tag_suggestion" ("model_version_id", "tag_id", "status") where status in ('APPROVED', 'REJECTED', 'CORRECTED')`,
})
export class TagSuggestion {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  // No foreign key (see migrations/*_customer_erasure.ts): a per-row check would lock a customer
  // row for every bulk-written row; a statement trigger on customer erases these rows instead.
  @ManyToOne(() => Customer, { createForeignKeyConstraint: false })
  customer!: Customer;

  @ManyToOne(() => Tag, { deleteRule: 'restrict' })
  tag!: Tag;

  @Enum({ items: () => SuggestionSource, type: 'text' })
  source!: SuggestionSource;

  @Enum({ items: () => SuggestionKind, type: 'text' })
  kind!: SuggestionKind;

  /** For a CORRECTION: the held tag approving would replace. */
  @ManyToOne(() => Tag, { nullable: true, deleteRule: 'restrict' })
  replacesTag: Tag | null = null;

  @Property({ type: 'real' })
  confidence!: number;

  /** The tag's threshold in the model when scored; confidence − threshold orders MOST_UNCERTAIN. */
  @Property({ type: 'real' })
  threshold!: number;

  @Property({ type: 'real' })
  margin!: number;

  /** The customer's spend in the last 365 days when scored (0 if unknown), for HIGHEST_CUSTOMER_VALUE. */
  @Property({ type: 'real', default: 0 })
  customerValue: number = 0;

  // No foreign keys to the model registry: versions and clusters are never deleted, a run writes
  // ids it read in the same transaction, and the checks were a quarter of a run's merge time.
  @ManyToOne(() => ModelVersion, { createForeignKeyConstraint: false })
  modelVersion!: ModelVersion;

  @ManyToOne(() => Cluster, { nullable: true, createForeignKeyConstraint: false })
  cluster: Cluster | null = null;

  @Property({ type: 'jsonb' })
  explanation!: SuggestionExplanation;

  @Enum({ items: () => SuggestionStatus, type: 'text' })
  status: SuggestionStatus = SuggestionStatus.PENDING;

  /** Applied by policy and sampled into the queue for quality control: the tag is already held. */
  @Property({ type: 'boolean', default: false })
  autoApplied: boolean = false;

  @Property({ type: 'bigint', nullable: true })
  runId: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'text', nullable: true })
  reviewedBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  reviewedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  reviewNote: string | null = null;

  @ManyToOne(() => Tag, { nullable: true, deleteRule: 'restrict' })
  correctedTag: Tag | null = null;
}

export enum ReviewAction {
  APPROVED = 'APPROVED',
  REJECTED = 'REJECTED',
  /** The reviewer applied correctedTag instead (logged next to the REJECTED row). */
  CORRECTED = 'CORRECTED',
  AUTO_APPLIED = 'AUTO_APPLIED',
}

/** Append-only (a trigger refuses UPDATE and DELETE): every decision on a suggestion. */
@Entity({ tableName: 'review_log' })
@Index({ name: 'review_log_suggestion_id_idx', properties: ['suggestion'] })
@Index({ name: 'review_log_customer_id_idx', properties: ['customer', 'id'] })
export class ReviewLog {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne(() => TagSuggestion, { deleteRule: 'cascade' })
  suggestion!: TagSuggestion;

  // No foreign key (see migrations/*_customer_erasure.ts): a per-row check would lock a customer
  // row for every bulk-written row; a statement trigger on customer erases these rows instead.
  @ManyToOne(() => Customer, { createForeignKeyConstraint: false })
  customer!: Customer;

  /** The tag the action is about: the suggested one, or for CORRECTED the one applied instead. */
  @ManyToOne(() => Tag, { deleteRule: 'restrict' })
  tag!: Tag;

  @Enum({ items: () => ReviewAction, type: 'text' })
  action!: ReviewAction;

  @Property({ type: 'real' })
  confidence!: number;

  @ManyToOne(() => ModelVersion, { deleteRule: 'cascade' })
  modelVersion!: ModelVersion;

  @Property({ type: 'text', nullable: true })
  actor: string | null = null;

  @Property({ type: 'text', nullable: true })
  note: string | null = null;

  /** A bulk decision's filter or id list, so the log says how the item was chosen. */
  @Property({ type: 'jsonb', nullable: true })
  bulk: Record<string, unknown> | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  occurredAt: Date = new Date();
}

export enum SuggestionRunStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

/** A scoring run requested over the API or the CLI, executed by a queue worker. */
@Entity({ tableName: 'suggestion_run' })
export class SuggestionRun extends JobRunState {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Enum({ items: () => SuggestionRunStatus, type: 'text' })
  status: SuggestionRunStatus = SuggestionRunStatus.QUEUED;

  @ManyToOne(() => ModelVersion, { nullable: true, deleteRule: 'set null' })
  modelVersion: ModelVersion | null = null;

  @Property({ type: 'jsonb' })
  params!: Record<string, unknown>;

  @Property({ type: 'jsonb', nullable: true })
  progress: { phase: string; done: number; total: number } | null = null;

  /** Counts per outcome (created, superseded, held, cooldown, …) once finished. */
  @Property({ type: 'jsonb', nullable: true })
  report: Record<string, unknown> | null = null;

  @Property({ type: 'text', nullable: true })
  error: string | null = null;

  @Property({ type: 'text', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null = null;
}

/**
 * Per (tag, status) count deltas of tag_suggestion, appended by statement triggers: queue counts
 * sum a few rows instead of counting a million, and concurrent reviewers never contend on one
 * counter row.
 */
@Entity({ tableName: 'suggestion_tally' })
@Index({ name: 'suggestion_tally_status_tag_idx', properties: ['status', 'tagId'] })
export class SuggestionTally {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'bigint' })
  tagId!: string;

  @Enum({ items: () => SuggestionStatus, type: 'text' })
  status!: SuggestionStatus;

  @Property({ type: 'bigint' })
  n!: string;
}
