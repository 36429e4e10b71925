import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { GraphiQL } from 'graphiql';
import './workers';
import 'graphiql/style.css';
import { StrictMode, useMemo } from 'react';
import { createRoot } from 'react-dom/client';
import { SignIn } from '../pages/SignIn';
import { SessionProvider, useSession } from '../session';
import { EXAMPLE_TABS } from './examples';
import './graphiql.css';

/**
 * GraphiQL with the signed-in key sent as the Authorization header by the fetcher itself: the key
 * is entered once (or found from the console in this tab) and never sits in the headers editor,
 * which GraphiQL would keep in localStorage.
 */
function Ide() {
  const { apiKey, viewer, signOut } = useSession();
  const fetcher = useMemo(
    () =>
      createGraphiQLFetcher({ url: '/graphql', headers: { authorization: `Bearer ${apiKey}` } }),
    [apiKey],
  );
  return (
    <div className="ide">
      <div className="ide-bar">
        <a href="/">Review console</a>
        <span>
          Signed in as {viewer.name} ({viewer.role.toLowerCase().replace('_', ' ')})
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </div>
      <GraphiQL fetcher={fetcher} defaultTabs={EXAMPLE_TABS} defaultEditorToolsVisibility />
    </div>
  );
}

createRoot(document.getElementById('graphiql')!).render(
  <StrictMode>
    <QueryClientProvider client={new QueryClient()}>
      <SessionProvider
        signIn={(onSignedIn, refused) => <SignIn onSignedIn={onSignedIn} refused={refused} />}
      >
        <Ide />
      </SessionProvider>
    </QueryClientProvider>
  </StrictMode>,
);
