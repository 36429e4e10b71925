import { useState, type FormEvent } from 'react';
import { ApiError } from '../api';
import { fetchViewer, type Viewer } from '../session';

/** Asks for an API key and signs in once the API knows it. */
export function SignIn(props: {
  onSignedIn: (apiKey: string, viewer: Viewer) => void;
  refused?: string;
}) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(props.refused);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      props.onSignedIn(key.trim(), await fetchViewer(key.trim()));
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : String(failure));
      setBusy(false);
    }
  }

  return (
    <main className="sign-in">
      <h1>Tagwise</h1>
      <form onSubmit={(event) => void submit(event)} aria-describedby="sign-in-help">
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          autoFocus
          required
          value={key}
          onChange={(event) => setKey(event.target.value)}
        />
        <p id="sign-in-help" className="hint">
          The key decides what you see. It is kept in this tab only, until you sign out or close it.
        </p>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
