import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidInputError } from '../common/domain.errors.js';
import {
  ATTRIBUTE_LISTS,
  attributeMisfit,
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
    await this.checkAttributes(next);
    await this.repository.saveFeatureSet(next);
    return next;
  }

  /** Refuses the first attribute no customer has, or that holds values its kind cannot read. */
  private async checkAttributes(set: FeatureSet): Promise<void> {
    const declared = (Object.keys(ATTRIBUTE_LISTS) as (keyof typeof ATTRIBUTE_LISTS)[]).flatMap(
      (list) => set[list].map((name, i) => ({ list, i, name, kind: ATTRIBUTE_LISTS[list] })),
    );
    if (declared.length === 0) return;
    const counts = await this.repository.attributeValueCounts(
      declared.map((d) => d.name),
      set.dateAttributes,
    );
    for (const { list, i, name, kind } of declared) {
      const misfit = attributeMisfit(name, kind, counts.get(name));
      if (misfit) {
        const field = `featureSet.${list}.${i}`;
        throw new InvalidInputError(field, `${field}: ${misfit}`);
      }
    }
  }
}
