import type { EntityManager } from '@mikro-orm/postgresql';
import { Permission } from '../auth/api-key.entity.js';
import type { Viewer } from '../auth/auth.service.js';
import { ForbiddenError } from '../common/domain.errors.js';
import type { Attributes } from '../customer/customer.entity.js';
import {
  CustomerOrderField,
  type CustomerFilter,
  type CustomerOrder,
} from '../customer/customer.input.js';
import type { CustomerRecord } from '../customer/customer.repository.js';
import { slug } from '../feature/feature.definitions.js';
import {
  joinPath,
  visitCondition,
  type Comparison,
  type Condition,
} from '../segment/condition/index.js';
import { TraitRepository } from '../trait/trait.repository.js';
import { maskAttributes, maskEmail, maskName, maskPhone } from './pii.js';

/** The profile fields that are personal data; personal traits come from the trait taxonomy. */
export const PERSONAL_FIELDS = ['name', 'email', 'phone'] as const;
const PERSONAL_FIELD_SET: ReadonlySet<string> = new Set(PERSONAL_FIELDS);

/** A customer's personal data as one viewer may see it. */
export interface PersonalView {
  name: string;
  email: string | null;
  phone: string | null;
  attributes: Attributes;
}

/** The features computed from a trait (see featureDefinitions): they carry its value. */
export function featuresOfTrait(key: string): string[] {
  return [`attr_${slug(key)}`, `attr_${slug(key)}_days`];
}

/**
 * Personal data for one request (or one CLI command): whether its key may see it in clear, what
 * a customer looks like to it, and which filters and conditions it may not use because they would
 * reveal a value by probing. Built once per request by createContext, so every path that returns
 * a customer or reads a condition goes through the same decision.
 */
export class PersonalDataService {
  private personal: Promise<ReadonlySet<string>> | null = null;
  private readonly views = new WeakMap<CustomerRecord, Promise<PersonalView>>();

  /**
   * @param mayReveal true when the key carries the PII permission (or the CLI operator asked
   *   for personal data: they hold the database anyway)
   */
  constructor(
    private readonly em: EntityManager,
    readonly mayReveal: boolean,
  ) {}

  /**
   * ADMIN does not imply PII: a key sees personal data in clear only when created with it, so one
   * rule holds for every key, the ADMIN_API_KEY one included (an admin may create a PII key).
   */
  static forViewer(em: EntityManager, viewer: Viewer | null): PersonalDataService {
    return new PersonalDataService(em, viewer?.permissions.includes(Permission.PII) ?? false);
  }

  /**
   * Jobs (rule runs, scoring): they return no customer to anyone and read no caller's condition,
   * so nothing is masked or refused.
   */
  static forSystem(em: EntityManager): PersonalDataService {
    return new PersonalDataService(em, true);
  }

  /** The trait keys marked personal, read at most once per request. */
  personalTraits(): Promise<ReadonlySet<string>> {
    this.personal ??= new TraitRepository(this.em).findPersonalKeys();
    return this.personal;
  }

  /**
   * The one decision whether this key reads a customer's personal data in clear: every clear
   * read passes here (profile fields, traits, features computed from them, explanations naming
   * their values), so this is where the audit log records reads of personal data.
   */
  private revealsTo(_customerId: string): boolean {
    return this.mayReveal;
  }

  /**
   * What this key sees of a customer's personal data, computed once per customer row and
   * request however many of its fields a query selects.
   */
  view(customer: CustomerRecord): Promise<PersonalView> {
    let view = this.views.get(customer);
    if (!view) {
      view = this.revealsTo(customer.id)
        ? Promise.resolve(clearView(customer))
        : this.maskedView(customer);
      this.views.set(customer, view);
    }
    return view;
  }

  /** A customer's computed features; those computed from a personal trait null when masked. */
  async readableFeatures<V>(
    customerId: string,
    values: Record<string, V>,
  ): Promise<Record<string, V | null>> {
    if (this.revealsTo(customerId)) return values;
    const withheld = await this.withheldFeatures();
    return Object.fromEntries(
      Object.entries(values).map(([name, value]) => [name, withheld.has(name) ? null : value]),
    );
  }

  /**
   * A suggestion's explanation: a contribution of a feature computed from a personal trait does
   * not state its value when masked (its direction and size stay).
   */
  async readableContributions<C extends { feature: string; text: string }>(
    customerId: string,
    contributions: C[],
  ): Promise<C[]> {
    if (this.revealsTo(customerId)) return contributions;
    const withheld = await this.withheldFeatures();
    return contributions.map((c) =>
      withheld.has(c.feature) ? { ...c, text: `${c.feature}: personal, not shown` } : c,
    );
  }

  private async maskedView(customer: CustomerRecord): Promise<PersonalView> {
    return {
      name: maskName(customer.name),
      email: customer.email === null ? null : maskEmail(customer.email),
      phone: customer.phone === null ? null : maskPhone(customer.phone),
      attributes: maskAttributes(customer.attributes, await this.personalTraits()),
    };
  }

  /** Feature names that carry a personal trait's value, masked (null) for this key. */
  async withheldFeatures(): Promise<ReadonlySet<string>> {
    if (this.mayReveal) return new Set();
    return new Set([...(await this.personalTraits())].flatMap(featuresOfTrait));
  }

  /**
   * Refuses the parts of a customers filter or order that would reveal personal values by probing
   * (`search` on name and email, comparisons on personal traits, ordering by name, whose cursor
   * holds the name) to a key without PII.
   */
  async assertMayFilter(
    filter: CustomerFilter | null | undefined,
    orderBy: CustomerOrder | null | undefined,
  ): Promise<void> {
    if (this.mayReveal) return;
    if (filter?.search != null && filter.search.trim() !== '') {
      throw refusal('filter.search', 'searching name and email');
    }
    if (filter?.attributes?.length) {
      const personal = await this.personalTraits();
      filter.attributes.forEach((condition, i) => {
        if (personal.has(condition.key)) {
          throw refusal(
            `filter.attributes[${i}].key`,
            `a condition on personal trait "${condition.key}"`,
          );
        }
      });
    }
    if (orderBy?.field === CustomerOrderField.NAME) {
      throw refusal('orderBy.field', 'ordering by name');
    }
  }

  /**
   * A saved condition as this key may read it: the operands of comparisons on personal data
   * (`email = "wei@example.cn"`, `attr.income > 80000`) read `***` for a key without PII, so a
   * segment or rule a PII key saved shows what it selects on, not the values it names.
   */
  async readableCondition(tree: Condition): Promise<Condition> {
    if (this.mayReveal) return tree;
    const personal = await this.personalTraits();
    const withheld = await this.withheldFeatures();
    const map = (c: Condition): Condition =>
      visitCondition<Condition>(c, {
        and: (operands) => ({ and: operands.map(map) }),
        or: (operands) => ({ or: operands.map(map) }),
        not: (operand) => ({ not: map(operand) }),
        tag: () => c,
        category: () => c,
        field: (field) => (PERSONAL_FIELD_SET.has(field.name) ? { field: hideOperands(field) } : c),
        attribute: (attribute) =>
          personal.has(attribute.key) ? { attribute: hideOperands(attribute) } : c,
        feature: (feature) => (withheld.has(feature.name) ? { feature: hideOperands(feature) } : c),
        events: () => c,
        cluster: () => c,
        segment: () => c,
      });
    return map(tree);
  }

  /**
   * Refuses a condition (segments, rules, previews) that compares a personal field, personal
   * trait or a feature computed from one, for a key without PII. Only what the caller wrote is
   * checked: a referenced segment is someone's publication, its members visible (masked) anyway.
   * `prefix` is where the condition sits in the input, as errors name it.
   */
  async assertMayUseCondition(tree: Condition, prefix: string): Promise<void> {
    if (this.mayReveal) return;
    const personal = await this.personalTraits();
    const withheld = await this.withheldFeatures();
    const walk = (c: Condition, path: string): void =>
      visitCondition<void>(c, {
        and: (operands) => operands.forEach((o, i) => walk(o, `${joinPath(path, 'and')}[${i}]`)),
        or: (operands) => operands.forEach((o, i) => walk(o, `${joinPath(path, 'or')}[${i}]`)),
        not: (operand) => walk(operand, joinPath(path, 'not')),
        tag: () => {},
        category: () => {},
        field: (field) => {
          if (PERSONAL_FIELD_SET.has(field.name)) {
            throw refusal(
              joinPath(prefix, `${joinPath(path, 'field')}.name`),
              `a condition on ${field.name}`,
            );
          }
        },
        attribute: (attribute) => {
          if (personal.has(attribute.key)) {
            throw refusal(
              joinPath(prefix, `${joinPath(path, 'attribute')}.key`),
              `a condition on personal trait "${attribute.key}"`,
            );
          }
        },
        feature: (feature) => {
          if (withheld.has(feature.name)) {
            throw refusal(
              joinPath(prefix, `${joinPath(path, 'feature')}.name`),
              `a condition on feature ${feature.name}, computed from a personal trait`,
            );
          }
        },
        events: () => {},
        cluster: () => {},
        segment: () => {},
      });
    walk(tree, '');
  }
}

const HIDDEN = '***';

/** The comparison with its operands hidden, keeping its operator (and how many values a list had). */
function hideOperands<C extends Comparison>(comparison: C): C {
  switch (comparison.op) {
    case 'EXISTS':
      return comparison;
    case 'BETWEEN':
      return { ...comparison, low: HIDDEN, high: HIDDEN };
    case 'IN':
    case 'NOT_IN':
      return { ...comparison, values: comparison.values.map(() => HIDDEN) };
    default:
      return { ...comparison, value: HIDDEN };
  }
}

function clearView(customer: CustomerRecord): PersonalView {
  return {
    name: customer.name,
    email: customer.email,
    phone: customer.phone,
    attributes: customer.attributes,
  };
}

function refusal(field: string, what: string): ForbiddenError {
  return new ForbiddenError(
    `${field}: ${what} needs the PII permission, which your API key does not have`,
    { field, permission: Permission.PII },
  );
}
