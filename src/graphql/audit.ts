import type { ApolloServerPlugin } from '@apollo/server';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  defaultFieldResolver,
  isObjectType,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from 'graphql';
import { UseMiddleware, type MiddlewareFn } from 'type-graphql';
import type { Logger } from '../config/logger.js';
import { Permission } from '../modules/auth/api-key.entity.js';
import { AuditRepository } from '../modules/audit/audit.repository.js';
import { changedFields, sampleIds } from '../modules/audit/audit.service.js';
import type { GraphQLContext } from './context.js';

// The field's arguments as graphql-js coerced them (plain objects, ids as strings), before
// type-graphql builds the input classes: each spec reads the few it names.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped by nature, see above
type Args = Record<string, any>;
type Ids = Iterable<string | number | null | undefined> | null | undefined;

// Method signatures, so that a spec may declare the result type its mutation returns.
/** How one mutation is written to the audit log; see `@Audited`. */
export interface AuditSpec<R = unknown> {
  /** What the targets are: TAG, CUSTOMER, RULE… */
  targetType: string;
  /** Ids of the targets, from the arguments or the result; only a sample is kept. */
  targets?(args: Args, result: R, em: EntityManager): Ids | Promise<Ids>;
  /** Counts and other compact facts; never secrets, never customers' personal values. */
  change?(args: Args, result: R): Record<string, unknown>;
  /**
   * The audited fields of the target, read before the mutation runs and again after it: the entry
   * keeps those that changed (`before`, `after`). See `rowSnapshot`.
   */
  snapshot?: (audit: AuditRepository, args: Args) => Promise<Record<string, unknown> | null>;
  /** Snapshot fields kept as they are after the change even when unchanged (what it is about). */
  keep?: readonly string[];
}

/** Names of the mutations declared `@Audited`; assertMutationsAudited checks the schema's. */
const audited = new Set<string>();

/** Fields of one row by id: `rowSnapshot('tag', { name: 'name' }, (a) => a.id)`. */
export function rowSnapshot(
  table: string,
  columns: Readonly<Record<string, string>>,
  idOf: (args: Args) => unknown,
): NonNullable<AuditSpec['snapshot']> {
  return (audit: AuditRepository, args: Args) => audit.snapshot(table, columns, idOf(args));
}

/** Targets named by external id (customer upserts, events): the ids of a sample of them. */
export function customersByExternalId(
  externalIdsOf: (args: Args) => Iterable<string>,
): NonNullable<AuditSpec['targets']> {
  return (args: Args, _result: unknown, em: EntityManager) =>
    new AuditRepository(em).customerIdsByExternalId(sampleIds(externalIdsOf(args)));
}

/**
 * Every mutation appends one audit entry when it succeeds: who (the key's id and name), the
 * operation (the field's name), targets, and a compact change. The one door for GraphQL writes:
 * a type-graphql middleware rather than a call in each service, so a service cannot forget it,
 * and a mutation without `@Audited` stops the schema from building (assertMutationsAudited).
 *
 * The entry is written after the mutation has committed, in its own statement, not in the
 * mutation's transaction: services own their transactions, and wrapping each mutation in one here
 * would hold it open across work that must not run inside it (trainModels, runRules and
 * generateSuggestions hand a run to the job queue, whose worker must see the committed run).
 * A failed mutation writes no entry; should the entry itself fail after the change committed, the
 * error reaches the client (INTERNAL_SERVER_ERROR, logged), so a missing entry is never silent.
 */
export function Audited(spec: AuditSpec): MethodDecorator {
  return (prototype, key, descriptor) => {
    audited.add(String(key));
    UseMiddleware(auditMiddleware(spec))(prototype, key, descriptor);
  };
}

function auditMiddleware(spec: AuditSpec): MiddlewareFn<GraphQLContext> {
  return async ({ args, context, info }, next) => {
    const repository = new AuditRepository(context.em);
    // Read without a lock: a concurrent change between this read and the mutation would show in
    // `before`; the entry of that other change tells the rest of the story.
    const before = spec.snapshot ? await spec.snapshot(repository, args) : null;
    const result: unknown = await next();
    const after = spec.snapshot ? await spec.snapshot(repository, args) : null;
    await context.audit.record({
      operation: info.fieldName,
      targetType: spec.targetType,
      targetIds: sampleIds(await spec.targets?.(args, result, context.em)),
      change: {
        ...Object.fromEntries((spec.keep ?? []).map((field) => [field, after?.[field] ?? null])),
        ...(spec.snapshot ? changedFields(before, after) : {}),
        ...spec.change?.(args, result),
      },
    });
    return result;
  };
}

/** Refuses a schema with a mutation nobody declared how to audit. */
export function assertMutationsAudited(schema: GraphQLSchema): void {
  const missing = Object.keys(schema.getMutationType()?.getFields() ?? {}).filter(
    (name) => !audited.has(name),
  );
  if (missing.length > 0) {
    throw new Error(`Mutations without @Audited (see src/graphql/audit.ts): ${missing.join(', ')}`);
  }
}

/** Fields that carry personal data in clear, by GraphQL type. */
export const PERSONAL_DATA_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Customer: ['name', 'email', 'phone'],
};

/**
 * Wraps the resolvers of PERSONAL_DATA_FIELDS: when a key with the PII permission reads one in
 * clear, the customer is noted on the request, and auditPlugin writes one entry per request.
 *
 * A plain wrapper on the built schema rather than a type-graphql middleware: any middleware makes
 * type-graphql resolve the field through a chain of promises, which made `customers(first: 500)`
 * with name, email and phone take 2.6 times as long; this adds one synchronous call per value.
 */
export function notePersonalReads(schema: GraphQLSchema): void {
  for (const [typeName, fieldNames] of Object.entries(PERSONAL_DATA_FIELDS)) {
    const type = schema.getType(typeName);
    if (!isObjectType(type)) throw new Error(`Personal data of an unknown type: ${typeName}`);
    for (const name of fieldNames) {
      const field = type.getFields()[name];
      if (!field) throw new Error(`Personal data in an unknown field: ${typeName}.${name}`);
      const resolve: GraphQLFieldResolver<unknown, GraphQLContext> =
        field.resolve ?? defaultFieldResolver;
      field.resolve = (root, args, context: GraphQLContext, info) => {
        const value: unknown = resolve(root, args, context, info);
        if (!context.viewer?.permissions.includes(Permission.PII)) return value;
        const note = (resolved: unknown) => {
          if (resolved != null)
            context.audit.notePersonalRead([String((root as { id: string }).id)]);
          return resolved;
        };
        return isPromise(value) ? value.then(note) : note(value);
      };
    }
  }
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as Promise<unknown> | null)?.then === 'function';
}

/**
 * Writes the request's personal-data entry once the response is complete. A failure is logged
 * rather than turned into an error: the data has already been produced.
 */
export function auditPlugin(logger: Logger): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue }) {
          try {
            await contextValue.audit?.flush();
          } catch (error) {
            logger.error({ err: error }, 'could not write the audit entry of a personal-data read');
          }
        },
      };
    },
  };
}
