import { Role } from '../auth/rights.js';

const { REVIEWER, DATA_SCIENTIST, ADMIN } = Role;

/**
 * Which roles may do what, by area: the one table that `@Authorized(MAY.…)` on the resolvers and
 * the `viewer` query's flags both read, so what a client is told a key may do cannot drift from
 * what the API lets it do. Reading needs no entry: every role reads (departments and personal
 * data narrow what it sees, not whether it may ask).
 */
export const MAY = {
  /** Apply and remove tags; approve, reject and correct suggestions, one by one or in bulk. */
  review: [REVIEWER, ADMIN],
  /** Train models, promote a version, map clusters to tags, generate suggestions. */
  manageModels: [DATA_SCIENTIST, ADMIN],
  /** Create, update, delete and run segments and rules; resolve rule conflicts. */
  manageRules: [DATA_SCIENTIST, ADMIN],
  /** Upsert customers and record events. */
  manageCustomers: [DATA_SCIENTIST, ADMIN],
  /** Cancel a queued or running run of any kind (training, scoring, rules). */
  cancelRuns: [DATA_SCIENTIST, ADMIN],
  /** Taxonomy, departments, auto-apply policies, personal traits, API keys, the audit log. */
  administer: [ADMIN],
} as const satisfies Record<string, readonly Role[]>;

export type Ability = keyof typeof MAY;

/** Whether a role may do what `ability` covers. */
export function roleMay(role: Role, ability: Ability): boolean {
  return (MAY[ability] as readonly Role[]).includes(role);
}

/** One flag per ability, `canReview` for `review`: what the `viewer` query tells a client. */
export type AbilityFlags = { [A in Ability as `can${Capitalize<A>}`]: boolean };

export function abilityFlags(role: Role): AbilityFlags {
  return Object.fromEntries(
    (Object.keys(MAY) as Ability[]).map((a) => [
      `can${a[0]!.toUpperCase()}${a.slice(1)}`,
      roleMay(role, a),
    ]),
  ) as AbilityFlags;
}
