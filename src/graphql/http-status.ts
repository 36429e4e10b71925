import type { ApolloServerPlugin } from '@apollo/server';
import Negotiator from 'negotiator';

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

/**
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
          if (codes.length === 0 || !codes.every((code) => code in REFUSALS)) return;
          const data = result.data as Record<string, unknown> | null | undefined;
          if (data && Object.values(data).some((value) => value !== null)) return;
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
