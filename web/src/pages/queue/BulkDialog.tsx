import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../../api';
import { graphql, type ResultOf } from '../../graphql';
import { useSession } from '../../session';
import { filterOf, type QueueView } from './queue.search';

const ReviewSuggestionsMutation = graphql(`
  mutation ReviewSuggestions($input: ReviewSuggestionsInput!) {
    reviewSuggestions(input: $input) {
      dryRun
      matched
      decided
      skipped {
        suggestionId
        status
        reason
      }
      sample {
        id
        confidence
        tag {
          name
        }
        customer {
          name
        }
      }
    }
  }
`);

type BulkResult = ResultOf<typeof ReviewSuggestionsMutation>['reviewSuggestions'];
type BulkDecision = 'APPROVE' | 'REJECT';

/**
 * One decision for every pending suggestion the current view matches: a dry run first (count and
 * sample, nothing written), then the same call for real once confirmed, and what it did.
 */
export function BulkDialog(props: {
  view: QueueView;
  /** The view in words, e.g. "tag Wine lover, confidence from 0.8". */
  describe: string;
  onClose(changed: boolean): void;
}) {
  const { request } = useSession();
  const dialog = useRef<HTMLDialogElement>(null);
  const [decision, setDecision] = useState<BulkDecision>('APPROVE');
  const [note, setNote] = useState('');
  const [preview, setPreview] = useState<BulkResult | null>(null);
  const [result, setResult] = useState<BulkResult | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  // showModal keeps focus inside and closes on Escape; the page behind is inert meanwhile.
  useEffect(() => dialog.current?.showModal(), []);

  async function run(dryRun: boolean) {
    setBusy(true);
    setError(null);
    try {
      const { reviewSuggestions } = await request(ReviewSuggestionsMutation, {
        input: { decision, dryRun, filter: filterOf(props.view), note: note.trim() || null },
      });
      if (dryRun) setPreview(reviewSuggestions);
      else setResult(reviewSuggestions);
    } catch (failure) {
      setError(
        failure instanceof ApiError
          ? failure
          : new ApiError(String(failure), 'INTERNAL_SERVER_ERROR'),
      );
    } finally {
      setBusy(false);
    }
  }

  const verb = decision === 'APPROVE' ? 'approve' : 'reject';
  return (
    <dialog
      ref={dialog}
      className="bulk"
      aria-labelledby="bulk-title"
      onClose={() => props.onClose(result !== null)}
    >
      <h2 id="bulk-title">Decide every suggestion in this view</h2>
      <p className="hint">
        Pending suggestions matching: {props.describe}. At most 1,000 per call.
      </p>
      {result ? (
        <section aria-live="polite">
          <p className="ok" role="status">
            {result.decided === 1 ? '1 suggestion' : `${result.decided} suggestions`}{' '}
            {decision === 'APPROVE' ? 'approved' : 'rejected'}; {result.skipped.length} skipped.
          </p>
          <SkippedList skipped={result.skipped} />
          <div className="actions">
            <button type="button" autoFocus onClick={() => dialog.current?.close()}>
              Close
            </button>
          </div>
        </section>
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void run(preview === null);
          }}
        >
          <fieldset disabled={preview !== null}>
            <legend>Decision</legend>
            {(['APPROVE', 'REJECT'] as const).map((value) => (
              <label key={value} className="inline">
                <input
                  type="radio"
                  name="bulk-decision"
                  value={value}
                  checked={decision === value}
                  onChange={() => setDecision(value)}
                />{' '}
                {value === 'APPROVE' ? 'Approve' : 'Reject'}
              </label>
            ))}
            <label htmlFor="bulk-note">
              {decision === 'APPROVE' ? 'Note (optional)' : 'Reason (optional)'}
            </label>
            <input id="bulk-note" value={note} onChange={(e) => setNote(e.target.value)} />
          </fieldset>
          {preview && (
            <section aria-live="polite" aria-labelledby="bulk-preview-title">
              <h3 id="bulk-preview-title">Dry run: nothing written yet</h3>
              <p role="status" data-testid="bulk-dry-run-count">
                {preview.decided} of {preview.matched} matched would be {verb}d
                {preview.skipped.length > 0 && `; ${preview.skipped.length} skipped`}.
              </p>
              {preview.sample.length > 0 && (
                <table>
                  <caption>Sample of those to be {verb}d</caption>
                  <thead>
                    <tr>
                      <th scope="col">Customer</th>
                      <th scope="col">Tag</th>
                      <th scope="col">Confidence</th>
                    </tr>
                  </thead>
                  <tbody>
                    {preview.sample.map((s) => (
                      <tr key={s.id}>
                        <td>{s.customer.name}</td>
                        <td>{s.tag.name}</td>
                        <td>{Math.round(s.confidence * 100)}%</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              <SkippedList skipped={preview.skipped} />
            </section>
          )}
          {error && (
            <p role="alert" className="error">
              {error.message} ({error.code})
            </p>
          )}
          <div className="actions">
            {preview === null ? (
              <button type="submit" className="primary" disabled={busy}>
                {busy ? 'Counting…' : 'Count (dry run)'}
              </button>
            ) : (
              <>
                <button
                  type="submit"
                  className={decision === 'APPROVE' ? 'primary' : 'danger'}
                  disabled={busy || preview.decided === 0}
                  autoFocus
                >
                  {busy
                    ? 'Working…'
                    : `${decision === 'APPROVE' ? 'Approve' : 'Reject'} ${preview.decided}`}
                </button>
                <button type="button" onClick={() => setPreview(null)} disabled={busy}>
                  Change
                </button>
              </>
            )}
            <button type="button" onClick={() => dialog.current?.close()} disabled={busy}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

function SkippedList({ skipped }: { skipped: BulkResult['skipped'] }) {
  if (skipped.length === 0) return null;
  return (
    <details>
      <summary>Skipped ({skipped.length})</summary>
      <ul>
        {skipped.slice(0, 20).map((s) => (
          <li key={s.suggestionId}>
            #{s.suggestionId} {s.status.toLowerCase()}: {s.reason}
          </li>
        ))}
      </ul>
    </details>
  );
}
