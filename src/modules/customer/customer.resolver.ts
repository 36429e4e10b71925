import type { GraphQLResolveInfo } from 'graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Info,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { selectsPath } from '../../graphql/selection.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { SCAN_WEIGHTS, Scans, setsAnything } from '../../graphql/cost.js';
import { MAY } from '../access/roles.js';
import { CustomersArgs } from './customer.args.js';
import { CustomerInput } from './customer.input.js';
import type { Attributes } from './customer.entity.js';
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
  // Filtered, the page and its totalCount read every customer the filter has to look at;
  // unfiltered, the page follows the index and the total is kept by triggers.
  @Scans(SCAN_WEIGHTS.scan, { when: (args) => setsAnything(args.filter) })
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

  @Authorized(MAY.manageCustomers)
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

  // Personal data is resolved here, on the type, so every path that returns a customer (lists,
  // suggestions, segment members and previews, rule conflicts…) shows it as the key may see it.
  @FieldResolver(() => String)
  async name(@Root() customer: CustomerRecord, @Ctx() ctx: GraphQLContext): Promise<string> {
    return (await ctx.access.view(customer)).name;
  }

  @FieldResolver(() => String, { nullable: true })
  async email(@Root() customer: CustomerRecord, @Ctx() ctx: GraphQLContext) {
    return (await ctx.access.view(customer)).email;
  }

  @FieldResolver(() => String, { nullable: true })
  async phone(@Root() customer: CustomerRecord, @Ctx() ctx: GraphQLContext) {
    return (await ctx.access.view(customer)).phone;
  }

  @FieldResolver(() => GraphQLJSONObject)
  async attributes(
    @Root() customer: CustomerRecord,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Attributes> {
    return (await ctx.access.view(customer)).attributes;
  }
}
