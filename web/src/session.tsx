import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import type { TadaDocumentNode } from 'gql.tada';
import { ApiError, request } from './api';
import { graphql, type ResultOf } from './graphql';

// The key lives in this tab's sessionStorage: it goes when the tab closes, and GraphiQL opened
// from the console in the same tab finds it, so a key is entered once.
const STORAGE_KEY = 'tagwise.apiKey';

export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      name
      role
      permissions
      canReview
      canManageModels
      canManageRules
    }
  }
`);

export type Viewer = NonNullable<ResultOf<typeof ViewerQuery>['viewer']>;

interface Session {
  apiKey: string;
  viewer: Viewer;
  /** Runs an operation with this session's key. */
  request<Result, Variables>(
    document: TadaDocumentNode<Result, Variables>,
    variables?: Variables,
  ): Promise<Result>;
  signOut(): void;
}

const SessionContext = createContext<Session | null>(null);

export function readStoredKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function storeKey(apiKey: string | null): void {
  if (apiKey === null) sessionStorage.removeItem(STORAGE_KEY);
  else sessionStorage.setItem(STORAGE_KEY, apiKey);
}

/** Whoever a key belongs to, or the API's refusal (UNAUTHENTICATED for a wrong key). */
export async function fetchViewer(apiKey: string): Promise<Viewer> {
  const { viewer } = await request(apiKey, ViewerQuery);
  if (!viewer) throw new ApiError('This key is not known', 'UNAUTHENTICATED');
  return viewer;
}

/**
 * Holds the signed-in key and its viewer; renders `signIn` until a key is known to the API. A key
 * the API stops accepting (revoked, expired) signs the tab out.
 */
export function SessionProvider(props: {
  children: ReactNode;
  signIn: (onSignedIn: (apiKey: string, viewer: Viewer) => void, refused?: string) => ReactNode;
}) {
  const [apiKey, setApiKey] = useState(readStoredKey);
  const client = useQueryClient();
  const viewer = useQuery({
    queryKey: ['viewer', apiKey],
    queryFn: () => fetchViewer(apiKey!),
    enabled: apiKey !== null,
    retry: false,
  });
  const signOut = useCallback(() => {
    storeKey(null);
    setApiKey(null);
    client.clear();
  }, [client]);
  const session = useMemo<Session | null>(
    () =>
      apiKey && viewer.data
        ? {
            apiKey,
            viewer: viewer.data,
            request: (document, variables) => request(apiKey, document, variables),
            signOut,
          }
        : null,
    [apiKey, viewer.data, signOut],
  );
  if (apiKey && viewer.isPending) return <p role="status">Signing in…</p>;
  if (!session) {
    return props.signIn(
      (key, signedIn) => {
        client.setQueryData(['viewer', key], signedIn);
        storeKey(key);
        setApiKey(key);
      },
      viewer.isError ? `Signed out: ${viewer.error.message}` : undefined,
    );
  }
  return <SessionContext.Provider value={session}>{props.children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in SessionProvider');
  return session;
}

/**
 * What the key may do, as the API itself says (`viewer`'s flags read the same table as its
 * access checks), so the console never offers what the API would refuse.
 */
export function abilities(viewer: Viewer) {
  return {
    review: viewer.canReview,
    science: viewer.canManageModels,
    rules: viewer.canManageRules,
  };
}
