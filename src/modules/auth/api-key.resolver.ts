import { ArrayMaxSize, Length } from 'class-validator';
import {
  Arg,
  Args,
  Authorized,
  Ctx,
  Field,
  FieldResolver,
  ID,
  InputType,
  Mutation,
  ObjectType,
  Query,
  Resolver,
  Root,
  registerEnumType,
} from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { PageArgs, createConnectionType } from '../common/connection.type.js';
import {
  ApiKey,
  ApiKeySource,
  ApiKeyStatus,
  Permission,
  Role,
  apiKeyStatus,
} from './api-key.entity.js';
import { MAY } from '../access/roles.js';
import { AuthService, keyRights } from './auth.service.js';
import { Audited, rowSnapshot } from '../../graphql/audit.js';

registerEnumType(Role, { name: 'Role', description: 'What an API key may do (see README)' });
registerEnumType(Permission, {
  name: 'Permission',
  description: 'What a key may do beyond its role; PII: see personal data in clear',
});
registerEnumType(ApiKeySource, {
  name: 'ApiKeySource',
  description: 'CREATED by an admin, or seeded from the ADMIN_API_KEY setting (ENVIRONMENT)',
});

registerEnumType(ApiKeyStatus, { name: 'ApiKeyStatus' });

@ObjectType('ApiKey', { description: 'An API key; the key itself is shown only when created' })
export class ApiKeyType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Role)
  role!: Role;

  @Field(() => [Permission])
  permissions!: Permission[];

  @Field(() => [String], { description: 'Department keys the key belongs to' })
  departments!: string[];

  @Field(() => String, { description: 'The first characters of the key, to tell keys apart' })
  keyPrefix!: string;

  @Field(() => ApiKeySource)
  source!: ApiKeySource;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'Last request with this key, to the minute (written at most once a minute)',
  })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;
}

const ApiKeyConnection = createConnectionType('ApiKey', ApiKeyType);

@ObjectType({ description: 'A new key: `key` is shown this once, only its hash is stored' })
export class CreatedApiKey {
  @Field(() => String)
  key!: string;

  @Field(() => ApiKeyType)
  apiKey!: ApiKey;
}

@InputType()
export class CreateApiKeyInput {
  @Field(() => String, { description: 'Who or what uses the key' })
  @Length(1, 100)
  name!: string;

  @Field(() => Role)
  role!: Role;

  @Field(() => [Permission], { defaultValue: [] })
  @ArrayMaxSize(10)
  permissions!: Permission[];

  @Field(() => [String], {
    defaultValue: [],
    description: 'Department keys: lower-case letters, digits, - and _',
  })
  departments!: string[];

  @Field(() => Date, { nullable: true, description: 'Refused from then on; null: never' })
  expiresAt?: Date | null;
}

/** Key management, for ADMIN keys only; changes reach every API process at once. */
@Resolver(() => ApiKeyType)
export class ApiKeyResolver {
  @Authorized(MAY.administer)
  @Query(() => ApiKeyConnection, { description: 'Every key, revoked and expired ones included' })
  async apiKeys(@Args(() => PageArgs) page: PageArgs, @Ctx() ctx: GraphQLContext) {
    return ApiKeyConnection.fromPage(await new AuthService(ctx.em).listKeys(page));
  }

  @Authorized(MAY.administer)
  @Audited({
    targetType: 'API_KEY',
    targets: (_args, created: CreatedApiKey) => [created.apiKey.id],
    // The key itself is never logged: only what it may do.
    change: (_args, { apiKey }: CreatedApiKey) => ({ after: keyRights(apiKey) }),
  })
  @Mutation(() => CreatedApiKey)
  createApiKey(
    @Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreatedApiKey> {
    return new AuthService(ctx.em).createKey(input);
  }

  @Authorized(MAY.administer)
  @Audited({
    targetType: 'API_KEY',
    targets: (args) => [args.id],
    snapshot: rowSnapshot('api_key', { revokedAt: 'revoked_at' }, (args) => args.id),
  })
  @Mutation(() => ApiKeyType, {
    description:
      'Refused at once by every API process; CONFLICT for the last usable ADMIN key. Revoking a revoked key changes nothing',
  })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<ApiKey> {
    return new AuthService(ctx.em).revokeKey(id);
  }

  @Authorized(MAY.administer)
  @Audited({
    targetType: 'API_KEY',
    targets: (args, created: CreatedApiKey) => [args.id, created.apiKey.id],
    change: (args, created: CreatedApiKey) => ({
      revoked: args.id,
      replacement: created.apiKey.id,
    }),
  })
  @Mutation(() => CreatedApiKey, {
    description:
      'A new secret with the same name, role, permissions, departments and expiry; the old key is revoked',
  })
  rotateApiKey(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreatedApiKey> {
    return new AuthService(ctx.em).rotateKey(id);
  }

  @FieldResolver(() => ApiKeyStatus)
  status(@Root() key: ApiKey): ApiKeyStatus {
    return apiKeyStatus(key);
  }
}
