import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

/**
 * Typed operations: `graphql(...)` checks each document against schema.graphql (through the
 * introspection gql.tada generates from it) and gives its result and variables their types.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: {
    DateTimeISO: string;
    JSONObject: Record<string, unknown>;
    ID: string;
  };
}>();

export { readFragment, type FragmentOf, type ResultOf, type VariablesOf } from 'gql.tada';
