import { Field, ID, ObjectType } from 'type-graphql';
import type { AbilityFlags } from '../access/roles.js';
import { Permission, Role } from './api-key.entity.js';

@ObjectType('Viewer', {
  description:
    'The API key making the request and what it may do; the flags read the same table as the operations’ role checks',
})
export class ViewerType implements AbilityFlags {
  @Field(() => ID, { description: 'The key’s id, as apiKeys and the audit log name it' })
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Role)
  role!: Role;

  @Field(() => [Permission])
  permissions!: readonly Permission[];

  @Field(() => [String], { description: 'Departments whose restricted tags the key sees' })
  departments!: readonly string[];

  @Field(() => String, { description: 'The first characters of the key' })
  keyPrefix!: string;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => Boolean, {
    description: 'Apply and remove tags; approve, reject and correct suggestions',
  })
  canReview!: boolean;

  @Field(() => Boolean, {
    description: 'Train models, promote a version, map clusters, generate suggestions',
  })
  canManageModels!: boolean;

  @Field(() => Boolean, {
    description: 'Create, update, delete and run segments and rules; resolve rule conflicts',
  })
  canManageRules!: boolean;

  @Field(() => Boolean, { description: 'Upsert customers and record events' })
  canManageCustomers!: boolean;

  @Field(() => Boolean, { description: 'Cancel training, scoring and rule runs' })
  canCancelRuns!: boolean;

  @Field(() => Boolean, {
    description: 'Taxonomy, departments, auto-apply policies, personal traits, API keys, audit log',
  })
  canAdminister!: boolean;

  @Field(() => Boolean, {
    description:
      'Sees personal data (name, email, phone, personal traits) in clear: the PII permission',
  })
  canSeePersonalData!: boolean;
}
