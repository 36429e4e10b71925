import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import Negotiator from 'negotiator';
import type { ServiceUnavailableError } from '../modules/common/domain.errors.js';

// Apollo's media types and its order of preference (ApolloServer.js, MEDIA_TYPES and
// chooseContentTypeForSingleResultResponse), so the choice here is the one Apollo makes.
const APPLICATION_JSON = 'application/json; charset=utf-8';
const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json; charset=utf-8';
const JSON_CALLBACK = 'application/json; callbackSpec=1.0; charset=utf-8';

/** The media type Apollo answers a request with this Accept header in. */
export function responseMediaType(accept: string | undefined): string | null {
  if (!accept) return APPLICATION_JSON;
  return (
    new Negotiator({ headers: { accept } }).mediaType([
      APPLICATION_JSON,
      GRAPHQL_RESPONSE_JSON,
      JSON_CALLBACK,
    ]) ?? null
  );
}

const REFUSALS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403 };

/** What a 503 asks clients to wait: about what a supervised embedded PostgreSQL takes to return. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * The database was unreachable before any resolver ran (looking the API key up): the whole
 * request fails with 503, whatever the media type, as Apollo answers a context that failed.
 */
export function unavailableRequest(error: ServiceUnavailableError): GraphQLError {
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: {
      code: 'SERVICE_UNAVAILABLE',
      http: {
        status: 503,
        headers: new HeaderMap([['retry-after', String(RETRY_AFTER_SECONDS)]]),
      },
    },
  });
}

/**
 * An operation that failed because the database was unreachable — some error SERVICE_UNAVAILABLE
 * and no data — answers 503 with `Retry-After` in every media type: it is not about the
 * operation, and clients and proxies retry on it. `data` becomes null, as GraphQL over HTTP asks
 * of a non-2xx `application/graphql-response+json` answer.
 *
 * An operation refused as a whole — every error UNAUTHENTICATED or FORBIDDEN and no data — answers
 * 401 (with `WWW-Authenticate: Bearer`) or 403 to clients that accept
 * `application/graphql-response+json`. GraphQL over HTTP allows a 4xx there once `data` is null,
 * so data that is only refused root fields becomes null. `application/json` responses keep 200,
 * as that spec asks of them: clients written for it read errors from the body.
 */
export function httpStatusPlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          const codes = (result.errors ?? []).map((e) => String(e.extensions?.code));
          const data = result.data as Record<string, unknown> | null | undefined;
          if (data && Object.values(data).some((value) => value !== null)) return;
          if (codes.includes('SERVICE_UNAVAILABLE')) {
            response.http.status = 503;
            response.http.headers.set('retry-after', String(RETRY_AFTER_SECONDS));
            if (data) result.data = null;
            return;
          }
          if (codes.length === 0 || !codes.every((code) => code in REFUSALS)) return;
          if (responseMediaType(request.http?.headers.get('accept')) !== GRAPHQL_RESPONSE_JSON) {
            return;
          }
          const status = codes.includes('UNAUTHENTICATED') ? 401 : 403;
          response.http.status = status;
          if (status === 401) response.http.headers.set('www-authenticate', 'Bearer');
          if (data) result.data = null;
        },
      };
    },
  };
}
