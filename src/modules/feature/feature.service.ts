import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidInputError } from '../common/domain.errors.js';
import {
  featureDefinitions,
  featureSetSchema,
  type FeatureDefinition,
  type FeatureSet,
} from './feature.definitions.js';
import { FeatureRepository } from './feature.repository.js';

export class FeatureService {
  private readonly repository: FeatureRepository;

  constructor(em: EntityManager) {
    this.repository = new FeatureRepository(em);
  }

  async describe(): Promise<{ set: FeatureSet; definitions: FeatureDefinition[] }> {
    const set = await this.repository.loadFeatureSet();
    return { set, definitions: featureDefinitions(set) };
  }

  /** Validates and stores a new feature set under the next version; values follow on refresh. */
  async configure(config: unknown): Promise<FeatureSet> {
    const parsed = featureSetSchema.safeParse(config);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = ['featureSet', ...issue.path].join('.');
      throw new InvalidInputError(field, `${field}: ${issue.message}`);
    }
    const current = await this.repository.loadFeatureSet();
    const next = { ...parsed.data, version: current.version + 1 };
    const names = featureDefinitions(next).map((d) => d.name);
    const repeated = names.find((name, i) => names.indexOf(name) !== i);
    if (repeated) {
      throw new InvalidInputError(
        'featureSet',
        `featureSet: two features would be named ${repeated}`,
      );
    }
    await this.repository.saveFeatureSet(next);
    return next;
  }
}
