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
  /** Aliased fields in an operation: each alias runs its field again. */
  maxAliases: number;
  /** Fields at the top of an operation, each its own entry point. */
  maxRootFields: number;
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

/**
 * Nesting of fields, fragments looked through; validation has already ruled out cycles. A
 * fragment's depth is the same wherever it is spread, so each is measured once: fragments that
 * spread others twice over would otherwise take time exponential in their number.
 */
function depthOf(
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  memo = new Map<string, number>(),
): number {
  let depth = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value.startsWith('__')) continue;
      const below = selection.selectionSet ? depthOf(selection.selectionSet, fragments, memo) : 0;
      depth = Math.max(depth, 1 + below);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      depth = Math.max(depth, depthOf(selection.selectionSet, fragments, memo));
    } else {
      const name = selection.name.value;
      let inner = memo.get(name);
      if (inner === undefined) {
        const fragment = fragments[name];
        inner = fragment ? depthOf(fragment.selectionSet, fragments, memo) : 0;
        memo.set(name, inner);
      }
      depth = Math.max(depth, inner);
    }
  }
  return depth;
}

/**
 * Aliased fields (counted at every use of the fragment they are in) and root fields of an
 * operation, fragments looked through. Each fragment is counted once and its counts reused, so
 * fragments spreading fragments twice over cannot make this exponential.
 */
function countFields(
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
): { aliases: number; rootFields: number } {
  const memo = new Map<string, { aliases: number; fields: number }>();
  const walk = (selectionSet: SelectionSetNode): { aliases: number; fields: number } => {
    let aliases = 0;
    let fields = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.alias) aliases++;
        if (!selection.name.value.startsWith('__')) fields++;
        if (selection.selectionSet) aliases += walk(selection.selectionSet).aliases;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const inner = walk(selection.selectionSet);
        aliases += inner.aliases;
        fields += inner.fields;
      } else {
        const name = selection.name.value;
        let inner = memo.get(name);
        if (!inner) {
          const fragment = fragments[name];
          inner = fragment ? walk(fragment.selectionSet) : { aliases: 0, fields: 0 };
          memo.set(name, inner);
        }
        aliases += inner.aliases;
        fields += inner.fields;
      }
    }
    return { aliases, fields };
  };
  const { aliases, fields } = walk(operation.selectionSet);
  return { aliases, rootFields: fields };
}

/**
 * `field` is the request's `query`: the whole operation is what has to change; `limit` names the
 * setting that refused it.
 */
function tooExpensive(message: string, limit: string, max: number): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'BAD_USER_INPUT', field: 'query', limit, max, http: { status: 400 } },
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
): { depth: number; cost: number | null; aliases: number; rootFields: number } {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
  }
  const depth = depthOf(operation.selectionSet, fragments);
  const { aliases, rootFields } = countFields(operation, fragments);
  try {
    const cost = getComplexity({
      schema,
      query: document,
      ...(operation.name ? { operationName: operation.name.value } : {}),
      variables,
      estimators: [estimateCost],
    });
    return { depth, cost, aliases, rootFields };
  } catch {
    return { depth, cost: null, aliases, rootFields };
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
  const measured = new WeakMap<OperationDefinitionNode, ReturnType<typeof measureOperation>>();
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
          const { depth, cost, aliases, rootFields } = measure;
          if (rootFields > limits.maxRootFields) {
            throw tooExpensive(
              `The operation has ${rootFields} root fields; at most ${limits.maxRootFields} are allowed`,
              'maxRootFields',
              limits.maxRootFields,
            );
          }
          if (aliases > limits.maxAliases) {
            throw tooExpensive(
              `The operation has ${aliases} aliased fields; at most ${limits.maxAliases} are allowed`,
              'maxAliases',
              limits.maxAliases,
            );
          }
          if (depth > limits.maxDepth) {
            throw tooExpensive(
              `The query nests ${depth} fields deep; at most ${limits.maxDepth} are allowed`,
              'maxDepth',
              limits.maxDepth,
            );
          }
          if (cost !== null && cost > limits.maxCost) {
            throw tooExpensive(
              `The query could resolve up to ${cost} values; at most ${limits.maxCost} are allowed. ` +
                'Ask for smaller pages (first) or fewer nested lists',
              'maxCost',
              limits.maxCost,
            );
          }
        },
      };
    },
  };
}
