import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { SignIn } from './pages/SignIn';
import { SessionProvider } from './session';
import './styles.css';

// Queue data goes stale the moment another reviewer decides: screens refetch on focus, and a
// decision's own result updates its row at once.
const client = new QueryClient({
  defaultOptions: { queries: { retry: false, staleTime: 5_000 } },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={client}>
      <SessionProvider
        signIn={(onSignedIn, refused) => <SignIn onSignedIn={onSignedIn} refused={refused} />}
      >
        <App />
      </SessionProvider>
    </QueryClientProvider>
  </StrictMode>,
);
