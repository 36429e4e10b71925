import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, Kind, visit, type ASTNode, type DocumentNode } from 'graphql';
import { UNSTORABLE_REASON, findInputProblem, isStorableText } from '../modules/common/text.js';

/** 400 like the other refusals before execution: without it Apollo answers a plugin's error 500. */
function refuse(field: string, reason: string): GraphQLError {
  return new GraphQLError(`${field}: ${reason}`, {
    extensions: { code: 'BAD_USER_INPUT', field, http: { status: 400 } },
  });
}

/** Where a string literal sits among the arguments: `input.name`, `filter.search`. */
function literalPath(ancestors: readonly (ASTNode | readonly ASTNode[])[]): string {
  const names: string[] = [];
  for (const node of ancestors) {
    if (Array.isArray(node)) continue;
    const n = node as ASTNode;
    if (n.kind === Kind.ARGUMENT || n.kind === Kind.OBJECT_FIELD) names.push(n.name.value);
  }
  return names.join('.');
}

function firstUnstorableLiteral(document: DocumentNode): string | null {
  let found: string | null = null;
  visit(document, {
    StringValue(node, _key, _parent, _path, ancestors) {
      if (found === null && !isStorableText(node.value)) found = literalPath(ancestors) || 'query';
    },
  });
  return found;
}

/**
 * Refuses, before anything runs, any string input PostgreSQL could not store (see
 * isStorableText), in variables or in the query text, and variables nested deeper than
 * MAX_INPUT_NESTING, with BAD_USER_INPUT naming where. Without this a NUL in a search filter
 * became a database error and a condition tree 5,000 deep overflowed the stack while being
 * coerced: INTERNAL_SERVER_ERROR both. (The query text's own nesting is bounded by its depth limit
 * and parser.)
 */
export function textInputPlugin(): ApolloServerPlugin {
  // Apollo hands back the same parsed document for the same query text.
  const clean = new WeakSet<DocumentNode>();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request }) {
          if (!clean.has(document)) {
            const literal = firstUnstorableLiteral(document);
            if (literal !== null) throw refuse(literal, UNSTORABLE_REASON);
            clean.add(document);
          }
          for (const [name, value] of Object.entries(request.variables ?? {})) {
            const problem = findInputProblem(value, name);
            if (problem !== null) throw refuse(problem.path, problem.reason);
          }
        },
      };
    },
  };
}
