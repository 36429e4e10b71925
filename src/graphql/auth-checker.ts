import type { AuthCheckerInterface, ResolverData } from 'type-graphql';
import { ForbiddenError, UnauthenticatedError } from '../modules/common/domain.errors.js';
import type { Role } from '../modules/auth/api-key.entity.js';
import type { GraphQLContext } from './context.js';

/**
 * `@Authorized()` needs any valid key; `@Authorized(roles)` one of those roles. Throwing (rather
 * than returning false) keeps UNAUTHENTICATED and FORBIDDEN distinct for clients.
 */
export class AuthChecker implements AuthCheckerInterface<GraphQLContext, Role> {
  check({ context }: ResolverData<GraphQLContext>, roles: Role[]): boolean {
    if (!context.viewer) throw new UnauthenticatedError(context.authFailure ?? undefined);
    if (roles.length > 0 && !roles.includes(context.viewer.role)) {
      throw new ForbiddenError(
        `This operation needs one of the roles ${roles.join(', ')}; your key has ${context.viewer.role}`,
      );
    }
    return true;
  }
}
