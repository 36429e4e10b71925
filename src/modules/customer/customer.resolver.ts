import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Authorized, Ctx, ID, Info, Mutation, Query, Resolver } from 'type-graphql';
import { selectsPath } from '../../graphql/selection.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { Role } from '../auth/api-key.entity.js';
import { CustomersArgs } from './customer.args.js';
import { CustomerInput } from './customer.input.js';
import type { CustomerRecord } from './customer.repository.js';
import { CustomerConnection, CustomerType, UpsertCustomersResult } from './customer.type.js';
import type { UpsertOutcome } from './customer.service.js';
import { Audited, customersByExternalId } from '../../graphql/audit.js';

@Resolver(() => CustomerType)
export class CustomerResolver {
  @Authorized()
  @Query(() => CustomerType, { nullable: true })
  customer(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<CustomerRecord> {
    return ctx.services.customers.getCustomer(id);
  }

  @Authorized()
  @Query(() => CustomerConnection)
  async customers(
    @Args(() => CustomersArgs) args: CustomersArgs,
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
  ) {
    return CustomerConnection.fromPage(
      await ctx.services.customers.listCustomers(args.filter, args.orderBy, args, {
        withTags: selectsPath(info, ['edges', 'node', 'tags']),
      }),
    );
  }

  @Authorized(Role.ADMIN, Role.DATA_SCIENTIST)
  @Audited({
    targetType: 'CUSTOMER',
    // Ids and counts only: the customers' names, emails and phones stay out of the log.
    targets: customersByExternalId((args) => args.input.map((c: CustomerInput) => c.externalId)),
    change: (args, outcome: UpsertOutcome) => ({ rows: args.input.length, ...outcome }),
  })
  @Mutation(() => UpsertCustomersResult, {
    description: 'Create or update up to 10,000 customers by externalId, all or nothing',
  })
  upsertCustomers(
    @Arg('input', () => [CustomerInput]) input: CustomerInput[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<UpsertOutcome> {
    return ctx.services.customers.upsertCustomers(input);
  }
}
