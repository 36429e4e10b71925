import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidInputError } from '../common/domain.errors.js';
import type { Page, PageRequest } from '../common/pagination.js';
import { TraitRepository, type TraitRecord } from './trait.repository.js';

/** Trait keys are what customers' attributes may hold: 1 to 100 characters. */
export function validateTraitKey(key: string, field = 'key'): string {
  if (key.length === 0 || key.length > 100) {
    throw new InvalidInputError(field, `${field}: trait keys are 1 to 100 characters`);
  }
  return key;
}

/** The taxonomy of traits: which attribute keys exist and which are personal. */
export class TraitService {
  private readonly repository: TraitRepository;

  constructor(em: EntityManager) {
    this.repository = new TraitRepository(em);
  }

  listTraits(filter: { personal?: boolean | null }, page: PageRequest): Promise<Page<TraitRecord>> {
    return this.repository.findPage(filter, page.first, page.after);
  }

  /**
   * Marks a key personal (or not). A key no customer holds yet may be marked too, so that data
   * imported later is masked from its first read.
   */
  async setPersonal(key: string, personal: boolean, actor: string): Promise<TraitRecord> {
    validateTraitKey(key);
    await this.repository.setPersonal([key], personal, actor);
    return this.repository.findOne(key);
  }

  /** Marks keys personal in bulk (demo, imports); keys already personal are left alone. */
  markPersonal(keys: readonly string[], actor: string): Promise<void> {
    keys.forEach((key, i) => validateTraitKey(key, `keys[${i}]`));
    return this.repository.setPersonal(keys, true, actor);
  }

  personalKeys(): Promise<Set<string>> {
    return this.repository.findPersonalKeys();
  }
}
