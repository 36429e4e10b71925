import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  getNullableType,
  isListType,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
// The CommonJS build: its ES module build deep-imports graphql's .mjs files, a second copy of
// graphql next to the CommonJS one everything else here loads ("another module or realm").
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity/cjs';

export interface QueryLimits {
  maxCost: number;
  maxDepth: number;
}

/** What a list without `first` is assumed to hold: a customer's tags, segments, suggestions. */
const UNPAGED_LIST_SIZE = 10;

/**
 * Cost is an upper bound on the values a query resolves: each field costs 1, and what is under a
 * paginated field counts `first` times (its default when omitted), under another list
 * UNPAGED_LIST_SIZE times. A connection's `edges` are already counted by its `first`.
 * Introspection is free, so schema tooling always works.
 */
const estimateCost: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (field.name.startsWith('__')) return 0;
  if (typeof args.first === 'number') return 1 + childComplexity * args.first;
  if (isListType(getNullableType(field.type)) && field.name !== 'edges') {
    return 1 + childComplexity * UNPAGED_LIST_SIZE;
  }
  return 1 + childComplexity;
};

/** Nesting of fields, fragments looked through; validation has already ruled out cycles. */
function depthOf(
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
): number {
  let depth = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value.startsWith('__')) continue;
      const below = selection.selectionSet ? depthOf(selection.selectionSet, fragments) : 0;
      depth = Math.max(depth, 1 + below);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      depth = Math.max(depth, depthOf(selection.selectionSet, fragments));
    } else {
      const fragment = fragments[selection.name.value];
      if (fragment) depth = Math.max(depth, depthOf(fragment.selectionSet, fragments));
    }
  }
  return depth;
}

/** `field` is the request's `query`: the whole operation is what has to change. */
function tooExpensive(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'BAD_USER_INPUT', field: 'query', http: { status: 400 } },
  });
}

/**
 * Depth and cost of one operation of a validated document; cost is null when the variables do
 * not fit their types (execution refuses those next, as BAD_USER_INPUT naming the variable,
 * before any resolver runs).
 */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): { depth: number; cost: number | null } {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
  }
  const depth = depthOf(operation.selectionSet, fragments);
  try {
    const cost = getComplexity({
      schema,
      query: document,
      ...(operation.name ? { operationName: operation.name.value } : {}),
      variables,
      estimators: [estimateCost],
    });
    return { depth, cost };
  } catch {
    return { depth, cost: null };
  }
}

/**
 * Refuses, before anything runs, operations nested deeper than `maxDepth` or costing more than
 * `maxCost`: one careless `customers(first: 500) { events(first: 500) }` must not occupy the API
 * and the database for everyone else.
 */
export function queryLimitsPlugin(limits: QueryLimits): ApolloServerPlugin {
  // Apollo hands back the same parsed document for the same query text; an operation without
  // variables measures the same every time (about 60 µs for a customers page, 2 % of its cost).
  const measured = new WeakMap<OperationDefinitionNode, { depth: number; cost: number | null }>();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return;
          const constant = !operation.variableDefinitions?.length;
          let measure = constant ? measured.get(operation) : undefined;
          if (!measure) {
            measure = measureOperation(schema, document, operation, request.variables ?? {});
            if (constant) measured.set(operation, measure);
          }
          const { depth, cost } = measure;
          if (depth > limits.maxDepth) {
            throw tooExpensive(
              `The query nests ${depth} fields deep; at most ${limits.maxDepth} are allowed`,
            );
          }
          if (cost !== null && cost > limits.maxCost) {
            throw tooExpensive(
              `The query could resolve up to ${cost} values; at most ${limits.maxCost} are allowed. ` +
                'Ask for smaller pages (first) or fewer nested lists',
            );
          }
        },
      };
    },
  };
}
