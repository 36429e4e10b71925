import { Arg, Args, Authorized, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import { Audited, customersByExternalId } from '../../graphql/audit.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { MAY } from '../access/roles.js';
import type { CustomerRecord } from '../customer/customer.repository.js';
import { CustomerType } from '../customer/customer.type.js';
import { CustomerEventsArgs } from './event.args.js';
import { EventInput } from './event.input.js';
import { loadEventsPage } from './event.loaders.js';
import type { RecordOutcome } from './event.service.js';
import { EventConnection, RecordEventsResult } from './event.type.js';

const byExternalId = customersByExternalId((args) =>
  args.input.flatMap((e: EventInput) => (e.customerExternalId ? [e.customerExternalId] : [])),
);

@Resolver(() => CustomerType)
export class EventResolver {
  @Authorized(MAY.manageCustomers)
  @Audited({
    targetType: 'CUSTOMER',
    // Events name their customer by id or by external id.
    targets: async (args, result, em) => [
      ...args.input.map((e: EventInput) => e.customerId),
      ...((await byExternalId(args, result, em)) ?? []),
    ],
    change: (args, outcome: RecordOutcome) => ({ events: args.input.length, ...outcome }),
  })
  @Mutation(() => RecordEventsResult, {
    description: 'Record up to 10,000 events in one transaction; repeated externalIds are skipped',
  })
  recordEvents(
    @Arg('input', () => [EventInput]) input: EventInput[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<RecordOutcome> {
    return ctx.services.events.recordEvents(input);
  }

  @FieldResolver(() => EventConnection, { description: 'Behaviour events, newest first' })
  async events(
    @Root() customer: CustomerRecord,
    @Args(() => CustomerEventsArgs) args: CustomerEventsArgs,
    @Ctx() ctx: GraphQLContext,
  ) {
    return EventConnection.fromPage(
      await loadEventsPage(ctx.loaders, ctx.em, customer.id, args.filter, args),
    );
  }
}
