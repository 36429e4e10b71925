import { Args, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { MAY } from '../access/roles.js';
import { AuditEntryConnection, AuditEntryType, AuditLogArgs } from './audit.type.js';

@Resolver(() => AuditEntryType)
export class AuditResolver {
  @Authorized(MAY.administer)
  @Query(() => AuditEntryConnection, {
    description: 'Who changed what and when, newest first; reads of personal data too',
  })
  async auditLog(@Args(() => AuditLogArgs) args: AuditLogArgs, @Ctx() ctx: GraphQLContext) {
    return AuditEntryConnection.fromPage(await ctx.services.audit.list(args.filter, args));
  }
}
