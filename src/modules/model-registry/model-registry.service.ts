import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidInputError, NotFoundError, parseId } from '../common/domain.errors.js';
import { Tag, TagStatus } from '../taxonomy/tag.entity.js';
import { pageById, type Page, type PageRequest } from '../common/pagination.js';
import { bigintArray } from '../common/sql.js';
import { Cluster, ModelRun, ModelStatus, ModelVersion, RunStatus } from './model-version.entity.js';
import { TaxonomyVisibility } from '../taxonomy/visibility.js';

export interface TrainingRequest {
  seed?: number | null;
  tags?: string[] | null;
  promote?: boolean | null;
  targetPrecision?: number | null;
  testSize?: number | null;
  validationSize?: number | null;
}

export interface NewModelVersion {
  version: string;
  seed: number;
  backend: string;
  artifactPath: string;
  createdBy: string | null;
  params: Record<string, unknown>;
  featureSchema: { featureSetVersion: number; features: string[] };
  trainingSummary: Record<string, unknown>;
  metrics: Record<string, unknown>;
  clusters: { index: number; label: string; size: number; profile: Record<string, unknown> }[];
  assignments: { customerIds: string[]; clusters: ArrayLike<number>; distances: number[] };
}

export class ModelRegistryService {
  constructor(
    private readonly em: EntityManager,
    private readonly visibility = TaxonomyVisibility.unrestricted(em),
  ) {}

  /**
   * Stores a trained version with its clusters and every customer's assignment, as a CANDIDATE.
   * `andThen` runs in the same transaction (promotion, the run's end): all of it or none.
   */
  async register(
    input: NewModelVersion,
    andThen?: (em: EntityManager, model: ModelVersion) => Promise<void>,
  ): Promise<ModelVersion> {
    return this.em.transactional(async (em) => {
      const model = em.create(ModelVersion, {
        version: input.version,
        seed: input.seed,
        backend: input.backend,
        artifactPath: input.artifactPath,
        createdBy: input.createdBy,
        params: input.params,
        featureSchema: input.featureSchema,
        trainingSummary: input.trainingSummary,
        metrics: input.metrics,
        status: ModelStatus.CANDIDATE,
        createdAt: new Date(),
      });
      await em.flush();
      const clusters = input.clusters.map((c) =>
        em.create(Cluster, {
          modelVersion: model,
          index: c.index,
          label: c.label,
          size: c.size,
          profile: c.profile,
        }),
      );
      await em.flush();
      const clusterIds = Array.from(
        input.assignments.clusters,
        (c) => clusters.find((x) => x.index === c)!.id,
      );
      await em.execute(
        `insert into customer_cluster (model_version_id, customer_id, cluster_id, distance)
         select ?, c, k, d from unnest(?::bigint[], ?::bigint[], ?::real[]) as u(c, k, d)`,
        [
          model.id,
          bigintArray(input.assignments.customerIds),
          bigintArray(clusterIds),
          `{${input.assignments.distances.map((d) => (Number.isFinite(d) ? d : 0)).join(',')}}`,
        ],
      );
      await andThen?.(em, model);
      return model;
    });
  }

  /** Makes a version ACTIVE and retires the previous one; promoting an older version is a rollback. */
  async promote(id: string): Promise<ModelVersion> {
    const modelId = parseId(id, 'id');
    return this.em.transactional(async (em) => {
      // Serialises concurrent promotions: both would otherwise pass the check and one would hit
      // the one-active index.
      await em.execute('select pg_advisory_xact_lock(hashtext(?))', ['model_version_promotion']);
      const model = await em.findOne(ModelVersion, { id: modelId });
      if (!model) throw new NotFoundError('ModelVersion', id);
      if (model.status === ModelStatus.ACTIVE) return model;
      await em.nativeUpdate(
        ModelVersion,
        { status: ModelStatus.ACTIVE },
        { status: ModelStatus.RETIRED },
      );
      model.status = ModelStatus.ACTIVE;
      model.promotedAt = new Date();
      await em.flush();
      return model;
    });
  }

  /** Newest first. */
  async list(page: PageRequest): Promise<Page<ModelVersion>> {
    return pageById(this.em, ModelVersion, {}, page, 'desc');
  }

  active(): Promise<ModelVersion | null> {
    return this.em.findOne(ModelVersion, { status: ModelStatus.ACTIVE });
  }

  clustersOf(modelVersionId: string): Promise<Cluster[]> {
    return this.em.find(Cluster, { modelVersion: modelVersionId }, { orderBy: { index: 'asc' } });
  }

  /** Records a training run; the caller enqueues it for a worker. */
  async createRun(request: TrainingRequest, createdBy: string): Promise<ModelRun> {
    if (request.seed != null && (!Number.isInteger(request.seed) || request.seed < 0)) {
      throw new InvalidInputError('input.seed', 'input.seed must be a whole number ≥ 0');
    }
    if (
      request.targetPrecision != null &&
      !(request.targetPrecision > 0 && request.targetPrecision < 1)
    ) {
      throw new InvalidInputError(
        'input.targetPrecision',
        'input.targetPrecision must be between 0 and 1',
      );
    }
    for (const field of ['testSize', 'validationSize'] as const) {
      const share = request[field];
      if (share != null && !(share > 0 && share < 0.5)) {
        throw new InvalidInputError(`input.${field}`, `input.${field} must be between 0 and 0.5`);
      }
    }
    if (request.tags?.length) await this.assertKnownTags(request.tags);
    const run = this.em.create(ModelRun, {
      params: {
        ...(request.seed != null ? { seed: request.seed } : {}),
        ...(request.tags?.length ? { tags: request.tags } : {}),
        promote: request.promote ?? false,
        ...(request.targetPrecision != null ? { targetPrecision: request.targetPrecision } : {}),
        ...(request.testSize != null ? { testSize: request.testSize } : {}),
        ...(request.validationSize != null ? { validationSize: request.validationSize } : {}),
      },
      createdBy,
      status: RunStatus.QUEUED,
      createdAt: new Date(),
    });
    await this.em.flush();
    return run;
  }

  async getRun(id: string): Promise<ModelRun> {
    const run = await this.em.findOne(ModelRun, { id: parseId(id, 'id') });
    if (!run) throw new NotFoundError('ModelRun', id);
    return run;
  }

  /** Clusters of the active model, or of a given version. */
  async clusters(modelVersionId?: string | null): Promise<Cluster[]> {
    const id = modelVersionId
      ? parseId(modelVersionId, 'modelVersionId')
      : (await this.active())?.id;
    return id ? this.clustersOf(id) : [];
  }

  /** The cluster's members get the tag proposed by scoring runs; null unmaps. */
  /** Unknown tag keys, and keys of tags hidden from the caller, are refused before queueing. */
  private async assertKnownTags(keys: readonly string[]): Promise<void> {
    const { tagKeys } = await this.visibility.hiddenTaxonomy();
    const found = await this.em.find(Tag, { key: { $in: [...keys], $nin: tagKeys } });
    const known = new Set(found.map((t) => t.key));
    const index = keys.findIndex((k) => !known.has(k));
    if (index >= 0) {
      throw new InvalidInputError(
        `input.tags[${index}]`,
        `input.tags[${index}]: there is no tag "${keys[index]}"`,
      );
    }
  }

  async mapClusterToTag(clusterId: string, tagId: string | null): Promise<Cluster> {
    const cluster = await this.em.findOne(Cluster, { id: parseId(clusterId, 'clusterId') });
    if (!cluster) throw new NotFoundError('Cluster', clusterId);
    if (tagId === null) {
      cluster.tag = null;
    } else {
      const tag = await this.em.findOne(Tag, { id: parseId(tagId, 'tagId') });
      if (!tag || (await this.visibility.isTagHidden(tag.id)))
        throw new InvalidInputError('tagId', `tagId: tag ${tagId} does not exist`);
      if (tag.status !== TagStatus.ACTIVE) {
        throw new InvalidInputError('tagId', `tagId: tag "${tag.key}" is deprecated`);
      }
      cluster.tag = tag;
    }
    await this.em.flush();
    return cluster;
  }
}
