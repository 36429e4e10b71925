import { print } from '@0no-co/graphql.web';
import type { TadaDocumentNode } from 'gql.tada';

/** An error the API answered with: its code (BAD_USER_INPUT, CONFLICT, …) and message. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** The argument or input field the API named, where it named one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

/**
 * One operation over POST /graphql with the key as a Bearer token. The first error of a response
 * is thrown as an ApiError; an HTTP failure without a GraphQL body (a proxy, a dead server) is
 * thrown as NETWORK_ERROR so screens can say "the server did not answer" rather than guess.
 */
export async function request<Result, Variables>(
  apiKey: string,
  document: TadaDocumentNode<Result, Variables>,
  variables?: Variables,
): Promise<Result> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ query: print(document), variables: variables ?? {} }),
    });
  } catch {
    throw new ApiError('The server did not answer; is it running?', 'NETWORK_ERROR');
  }
  let body: GraphQLResponse<Result>;
  try {
    body = (await response.json()) as GraphQLResponse<Result>;
  } catch {
    throw new ApiError(`The server answered ${response.status} without a result`, 'NETWORK_ERROR');
  }
  const error = body.errors?.[0];
  if (error) {
    throw new ApiError(
      error.message,
      error.extensions?.code ?? 'INTERNAL_SERVER_ERROR',
      error.extensions?.field,
    );
  }
  if (body.data == null) throw new ApiError('The answer held no data', 'INTERNAL_SERVER_ERROR');
  return body.data;
}
