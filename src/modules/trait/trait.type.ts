import { Field, Int, ObjectType } from 'type-graphql';
import { createConnectionType } from '../common/connection.type.js';

@ObjectType('Trait', {
  description: 'An attribute key customers hold or an admin described, and whether it is personal',
})
export class TraitType {
  @Field(() => String)
  key!: string;

  @Field(() => Boolean, {
    description:
      'Personal: values are masked for keys without the PII permission, and conditions on it are refused to them',
  })
  personal!: boolean;

  @Field(() => Int, { description: 'Customers holding the key now' })
  customers!: number;

  @Field(() => Date, { nullable: true, description: 'When the flag last changed' })
  updatedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'Who last changed the flag' })
  updatedBy!: string | null;
}

export const TraitConnection = createConnectionType('Trait', TraitType);
