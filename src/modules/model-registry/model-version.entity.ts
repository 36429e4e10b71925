import {
  Entity,
  Enum,
  Index,
  ManyToOne,
  PrimaryKey,
  PrimaryKeyProp,
  Property,
} from '@mikro-orm/core';
import { JobRunState } from '../common/job-run.entity.js';
import { Customer } from '../customer/customer.entity.js';
import { Tag } from '../taxonomy/tag.entity.js';

export enum ModelStatus {
  CANDIDATE = 'CANDIDATE',
  ACTIVE = 'ACTIVE',
  RETIRED = 'RETIRED',
}

/**
 * One trained tagger: a segmentation plus a classifier, artifacts in a folder of the models dir named for the version.
 * At most one is ACTIVE (a partial unique index in the migration).
 */
@Entity({ tableName: 'model_version' })
@Index({
  name: 'model_version_one_active',
  expression: `create unique index "model_version_one_active" on "model_version" ((true)) where status = 'ACTIVE'`,
})
export class ModelVersion {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text', unique: true })
  version!: string;

  @Enum({ items: () => ModelStatus, type: 'text' })
  status: ModelStatus = ModelStatus.CANDIDATE;

  @Property({ type: 'integer' })
  seed!: number;

  @Property({ type: 'jsonb' })
  params!: Record<string, unknown>;

  /** Feature-set version and input feature names the model was trained on. */
  @Property({ type: 'jsonb' })
  featureSchema!: { featureSetVersion: number; features: string[] };

  @Property({ type: 'jsonb' })
  trainingSummary!: Record<string, unknown>;

  /** Per-tag held-out metrics and the segmentation's silhouette. */
  @Property({ type: 'jsonb' })
  metrics!: Record<string, unknown>;

  @Property({ type: 'text' })
  backend!: string;

  @Property({ type: 'text' })
  artifactPath!: string;

  @Property({ type: 'text', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  promotedAt: Date | null = null;
}

@Entity({ tableName: 'cluster' })
@Index({ name: 'cluster_model_version_id_index_idx', properties: ['modelVersion', 'index'] })
export class Cluster {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne(() => ModelVersion, { deleteRule: 'cascade' })
  modelVersion!: ModelVersion;

  @Property({ type: 'integer' })
  index!: number;

  @Property({ type: 'text' })
  label!: string;

  @Property({ type: 'integer' })
  size!: number;

  @Property({ type: 'jsonb' })
  profile!: Record<string, unknown>;

  /** Members get this tag proposed (mapClusterToTag). */
  @ManyToOne(() => Tag, { nullable: true, deleteRule: 'set null' })
  tag: Tag | null = null;
}

/** Which cluster of a model version each customer fell in. Written with COPY by training. */
@Entity({ tableName: 'customer_cluster' })
@Index({ name: 'customer_cluster_customer_id_idx', properties: ['customer'] })
export class CustomerCluster {
  [PrimaryKeyProp]?: ['modelVersion', 'customer'];

  @ManyToOne(() => ModelVersion, { primary: true, deleteRule: 'cascade' })
  modelVersion!: ModelVersion;

  // No foreign key (see migrations/*_customer_erasure.ts): a per-row check would lock a customer
  // row for every bulk-written row; a statement trigger on customer erases these rows instead.
  @ManyToOne(() => Customer, { primary: true, createForeignKeyConstraint: false })
  customer!: Customer;

  @ManyToOne(() => Cluster, { deleteRule: 'cascade' })
  cluster!: Cluster;

  @Property({ type: 'real' })
  distance!: number;
}

export enum RunStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

/** A training run requested over the API and executed by a queue worker. */
@Entity({ tableName: 'model_run' })
export class ModelRun extends JobRunState {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Enum({ items: () => RunStatus, type: 'text' })
  status: RunStatus = RunStatus.QUEUED;

  @Property({ type: 'jsonb' })
  params!: Record<string, unknown>;

  /** The latest phase, its done/total and e.g. the epoch's loss, for progress bars. */
  @Property({ type: 'jsonb', nullable: true })
  progress: { phase: string; done: number; total: number; detail?: string } | null = null;

  @ManyToOne(() => ModelVersion, { nullable: true, deleteRule: 'set null' })
  modelVersion: ModelVersion | null = null;

  @Property({ type: 'text', nullable: true })
  error: string | null = null;

  @Property({ type: 'text', nullable: true })
  createdBy: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null = null;

  /** The model folder an attempt writes, recorded first so a lost attempt's files can be removed. */
  @Property({ type: 'text', nullable: true })
  artifactPath: string | null = null;
}
