import { useCallback, useState } from 'react';
import { ApiError } from '../../api';
import { graphql, readFragment, type FragmentOf, type ResultOf } from '../../graphql';
import { useSession } from '../../session';

const DecisionFields = graphql(`
  fragment DecisionFields on TagSuggestion {
    id
    status
    reviewedBy
    reviewedAt
    reviewNote
    correctedTag {
      name
    }
  }
`);

const ApproveMutation = graphql(
  `
    mutation ApproveSuggestion($id: ID!) {
      approveSuggestion(id: $id) {
        ...DecisionFields
      }
    }
  `,
  [DecisionFields],
);

const RejectMutation = graphql(
  `
    mutation RejectSuggestion($id: ID!, $reason: String) {
      rejectSuggestion(id: $id, reason: $reason) {
        ...DecisionFields
      }
    }
  `,
  [DecisionFields],
);

const CorrectMutation = graphql(
  `
    mutation CorrectSuggestion($id: ID!, $tagId: ID!) {
      correctSuggestion(id: $id, tagId: $tagId) {
        ...DecisionFields
      }
    }
  `,
  [DecisionFields],
);

/** Who decided a suggestion, asked when the API says someone did so first. */
const SuggestionStatusQuery = graphql(
  `
    query SuggestionStatus($id: ID!) {
      suggestion(id: $id) {
        ...DecisionFields
      }
    }
  `,
  [DecisionFields],
);

export type Decision =
  | { action: 'approve' }
  | { action: 'reject'; reason: string }
  | { action: 'correct'; tagId: string };

type Status = ResultOf<typeof DecisionFields>['status'];

interface Decided {
  status: Status;
  reviewedBy: string | null;
  reviewedAt: string | null;
  correctedTag: string | null;
  note: string | null;
}

/** What became of a suggestion in this session; absent while it is undecided. */
export type Outcome =
  | { state: 'sending' }
  | { state: 'skipped' }
  /** This reviewer's decision, as the API recorded it. */
  | ({ state: 'decided' } & Decided)
  /** Someone else decided first: their decision stands. */
  | ({ state: 'taken' } & Decided)
  /** The API refused; nothing was decided and the item may be tried again. */
  | { state: 'failed'; message: string; code: string };

/** Whether the item still waits for this reviewer (a failed try counts as undecided). */
export const isOpen = (outcome: Outcome | undefined) =>
  outcome === undefined || outcome.state === 'failed';

function decided(
  state: 'decided' | 'taken',
  data: FragmentOf<typeof DecisionFields>,
): Extract<Outcome, { state: 'decided' | 'taken' }> {
  const s = readFragment(DecisionFields, data);
  return {
    state,
    status: s.status,
    reviewedBy: s.reviewedBy,
    reviewedAt: s.reviewedAt,
    correctedTag: s.correctedTag?.name ?? null,
    note: s.reviewNote,
  };
}

/**
 * A refused decision: someone else's when the suggestion is no longer PENDING, otherwise the API's
 * error as it stands (a CONFLICT on a pending suggestion is a tag deprecated meanwhile).
 */
async function explainFailure(
  request: ReturnType<typeof useSession>['request'],
  id: string,
  error: unknown,
): Promise<Outcome> {
  const failure =
    error instanceof ApiError ? error : new ApiError(String(error), 'INTERNAL_SERVER_ERROR');
  const failed: Outcome = { state: 'failed', message: failure.message, code: failure.code };
  if (failure.code !== 'CONFLICT') return failed;
  try {
    const now = decided('taken', (await request(SuggestionStatusQuery, { id })).suggestion);
    return now.status === 'PENDING' ? failed : now;
  } catch {
    return failed;
  }
}

/**
 * The session's decisions: one request each, its result kept per suggestion id. The API answers
 * CONFLICT when someone decided first (or the tag was deprecated meanwhile): the suggestion's own
 * status tells which, so a decision taken by another reviewer shows as theirs, not as an error.
 */
export function useDecisions() {
  const { request } = useSession();
  const [outcomes, setOutcomes] = useState<ReadonlyMap<string, Outcome>>(new Map());
  const record = useCallback(
    (id: string, outcome: Outcome) => setOutcomes((previous) => new Map(previous).set(id, outcome)),
    [],
  );

  const decide = useCallback(
    async (id: string, decision: Decision): Promise<Outcome> => {
      record(id, { state: 'sending' });
      let outcome: Outcome;
      try {
        const result =
          decision.action === 'approve'
            ? (await request(ApproveMutation, { id })).approveSuggestion
            : decision.action === 'reject'
              ? (await request(RejectMutation, { id, reason: decision.reason || null }))
                  .rejectSuggestion
              : (await request(CorrectMutation, { id, tagId: decision.tagId })).correctSuggestion;
        outcome = decided('decided', result);
      } catch (error) {
        outcome = await explainFailure(request, id, error);
      }
      record(id, outcome);
      return outcome;
    },
    [request, record],
  );
  const skip = useCallback((id: string) => record(id, { state: 'skipped' }), [record]);

  return { outcomes, decide, skip };
}
