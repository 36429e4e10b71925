import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
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
import type { GraphQLContext } from './context.js';
import { scanCostOf } from './cost.js';

export interface QueryLimits {
  maxCost: number;
  maxDepth: number;
  /** Aliased fields in an operation: each alias runs its field again. */
  maxAliases: number;
  /** Fields at the top of an operation, each its own entry point. */
  maxRootFields: number;
  /** Operations costing more than 1 for one of their fields, or over half of maxCost, at once per key; 0: no cap. */
  maxExpensivePerKey: number;
  /** Own cost of fields by coordinate (`Query.previewSegment`), over what @Scans declares. */
  costWeights: Readonly<Record<string, number>>;
}

/** What a list without `first` is assumed to hold: a customer's tags, segments, suggestions. */
const UNPAGED_LIST_SIZE = 10;

/**
 * Cost is an upper bound on the values a query resolves: each field costs 1, or its weight when
 * it scans (declared with @Scans next to the field, overridden by coordinate from
 * TAGWISE_COST_WEIGHTS), and what is under a paginated field counts `first` times (its default when
 * omitted), under another list UNPAGED_LIST_SIZE times. A connection's `edges` are already counted
 * by its `first`. A batched scan's weight goes to `cost.batched`, added once per place the field
 * appears rather than multiplied by the lists around it. Introspection is free, so schema tooling
 * always works. `cost.scans` records whether any field cost more than 1 of its own.
 */
function costEstimator(
  weights: Readonly<Record<string, number>>,
  cost: { batched: number; scans: boolean },
): ComplexityEstimator {
  return ({ type, field, args, childComplexity }) => {
    if (field.name.startsWith('__')) return 0;
    const scan = scanCostOf(field);
    const applies = !scan?.when || scan.when(args);
    const override = weights[`${type.name}.${field.name}`];
    let own = applies ? (override ?? scan?.weight ?? 1) : 1;
    if (own > 1) cost.scans = true;
    if (scan?.batched && own > 1) {
      cost.batched += own;
      own = 1;
    }
    if (typeof args.first === 'number') return own + childComplexity * args.first;
    if (isListType(getNullableType(field.type)) && field.name !== 'edges') {
      return own + childComplexity * UNPAGED_LIST_SIZE;
    }
    return own + childComplexity;
  };
}

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
export function tooExpensive(message: string, limit: string, max: number): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'BAD_USER_INPUT', field: 'query', limit, max, http: { status: 400 } },
  });
}

export interface OperationMeasure {
  depth: number;
  /** Null when the variables do not fit their types. */
  cost: number | null;
  aliases: number;
  rootFields: number;
  /** Whether some field costs more than 1 of its own (a scan). */
  scans: boolean;
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
  weights: Readonly<Record<string, number>> = {},
): OperationMeasure {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
  }
  const depth = depthOf(operation.selectionSet, fragments);
  const { aliases, rootFields } = countFields(operation, fragments);
  const extra = { batched: 0, scans: false };
  try {
    const cost = getComplexity({
      schema,
      query: document,
      ...(operation.name ? { operationName: operation.name.value } : {}),
      variables,
      estimators: [costEstimator(weights, extra)],
    });
    return { depth, cost: cost + extra.batched, aliases, rootFields, scans: extra.scans };
  } catch {
    return { depth, cost: null, aliases, rootFields, scans: extra.scans };
  }
}

/** Refused with 429 at once; a second is long enough for an expensive operation to finish or time out. */
function tooManyExpensive(max: number): GraphQLError {
  return new GraphQLError(
    `This key already runs ${max} expensive operations (scans, or over half the cost limit) at ` +
      'once; wait for one to finish',
    {
      extensions: {
        code: 'CONCURRENCY_LIMITED',
        limit: 'maxExpensivePerKey',
        max,
        http: { status: 429, headers: new HeaderMap([['retry-after', '1']]) },
      },
    },
  );
}

/**
 * Refuses, before anything runs, operations nested deeper than `maxDepth` or costing more than
 * `maxCost`: one careless `customers(first: 500) { events(first: 500) }` must not occupy the API
 * and the database for everyone else. Expensive operations — a scanning field, or over half of
 * maxCost — run at most `maxExpensivePerKey` at once per API key: a key cannot occupy the request
 * pool with many expensive operations at once, however cheaply each one passes the cost limit.
 */
export function queryLimitsPlugin(
  limits: QueryLimits,
  /** Called for every expensive operation allowed to run, before it runs. */
  onExpensive: (context: GraphQLContext) => void = () => {},
): ApolloServerPlugin<GraphQLContext> {
  // Apollo hands back the same parsed document for the same query text; an operation without
  // variables measures the same every time (about 60 µs for a customers page, 2 % of its cost).
  const measured = new WeakMap<OperationDefinitionNode, OperationMeasure>();
  // Expensive operations running now, per API key id, in this process.
  const running = new Map<string, number>();
  return {
    async requestDidStart() {
      let holding: string | null = null;
      const release = () => {
        if (holding === null) return;
        const n = (running.get(holding) ?? 1) - 1;
        if (n > 0) running.set(holding, n);
        else running.delete(holding);
        holding = null;
      };
      return {
        async didResolveOperation({ schema, document, operation, request, contextValue }) {
          if (!operation) return;
          const constant = !operation.variableDefinitions?.length;
          let measure = constant ? measured.get(operation) : undefined;
          if (!measure) {
            measure = measureOperation(
              schema,
              document,
              operation,
              request.variables ?? {},
              limits.costWeights,
            );
            if (constant) measured.set(operation, measure);
          }
          const { depth, cost, aliases, rootFields, scans } = measure;
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
                'Ask for smaller pages (first), fewer nested lists or fewer counts and previews ' +
                '(each costs as the customers it scans)',
              'maxCost',
              limits.maxCost,
            );
          }
          if (!(scans || (cost !== null && cost > limits.maxCost / 2))) return;
          // Without a key nothing runs (every field needs one), so there is nothing to hold.
          const key = contextValue.viewer?.keyId;
          if (key && limits.maxExpensivePerKey > 0) {
            const now = running.get(key) ?? 0;
            if (now >= limits.maxExpensivePerKey) {
              throw tooManyExpensive(limits.maxExpensivePerKey);
            }
            running.set(key, now + 1);
            holding = key;
          }
          onExpensive(contextValue);
        },
        // Apollo calls this for every request that got past didResolveOperation, errors or not.
        async willSendResponse() {
          release();
        },
      };
    },
  };
}
