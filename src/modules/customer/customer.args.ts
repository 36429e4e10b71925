import { ValidateNested } from 'class-validator';
import { ArgsType, Field } from 'type-graphql';
import { PageArgs } from '../common/connection.type.js';
import { CustomerFilter, CustomerOrder } from './customer.input.js';

@ArgsType()
export class CustomersArgs extends PageArgs {
  @Field(() => CustomerFilter, { nullable: true })
  @ValidateNested()
  filter?: CustomerFilter | null;

  @Field(() => CustomerOrder, { nullable: true })
  orderBy?: CustomerOrder | null;
}
