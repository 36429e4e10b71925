import { forwardRef, type ReactNode } from 'react';
import { Link } from 'wouter';
import { graphql, readFragment, type FragmentOf } from '../../graphql';
import type { Outcome } from './queue.decisions';

/** What a reviewer needs to judge one suggestion without leaving the queue. */
export const SuggestionCardFields = graphql(`
  fragment SuggestionCardFields on TagSuggestion {
    id
    kind
    confidence
    customerValue
    tag {
      id
      name
      category {
        id
        name
      }
    }
    replacesTag {
      id
      name
    }
    cluster {
      id
      label
    }
    explanation {
      text
      precision
      precisionIsEstimate
    }
    modelVersion {
      id
      version
    }
    customer {
      id
      name
      lifecycleStage
      industry
      region
      city
      companySize
      tags {
        source
        tag {
          id
          name
        }
      }
      events(first: 3) {
        edges {
          node {
            id
            type
            occurredAt
            amount
            currency
            category
          }
        }
      }
    }
  }
`);

export type SuggestionData = FragmentOf<typeof SuggestionCardFields>;
export type Suggestion = ReturnType<typeof readSuggestion>;

export function readSuggestion(data: SuggestionData) {
  return readFragment(SuggestionCardFields, data);
}

const percent = (value: number) => `${Math.round(value * 100)}%`;
const money = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
export const when = (iso: string) => new Date(iso).toLocaleString();

/** One suggestion of the queue, with what became of it in this session and its controls. */
export const SuggestionCard = forwardRef<
  HTMLElement,
  {
    suggestion: Suggestion;
    position: number;
    current: boolean;
    outcome: Outcome | undefined;
    /** The decision controls, or a prompt (reason, correction) while one is open. */
    children: ReactNode;
    onSelect(): void;
  }
>(function SuggestionCard({ suggestion: s, position, current, outcome, children, onSelect }, ref) {
  const headingId = `suggestion-${s.id}-title`;
  const profile = [
    s.customer.lifecycleStage,
    s.customer.industry,
    s.customer.companySize != null ? `${s.customer.companySize} employees` : null,
    [s.customer.city, s.customer.region].filter(Boolean).join(', ') || null,
  ].filter(Boolean);
  return (
    <article
      ref={ref}
      tabIndex={-1}
      aria-labelledby={headingId}
      aria-current={current ? 'true' : undefined}
      className={`card${current ? ' current' : ''}${outcome ? ` ${outcome.state}` : ''}`}
      data-suggestion-id={s.id}
      onClick={onSelect}
    >
      <header>
        <h2 id={headingId}>
          <span className="position">{position}.</span> {s.tag.name}{' '}
          <span className="category">{s.tag.category.name}</span>
          {s.kind === 'CORRECTION' && s.replacesTag && (
            <span className="category"> replaces {s.replacesTag.name}</span>
          )}{' '}
          for <Link href={`/customers/${s.customer.id}`}>{s.customer.name}</Link>
        </h2>
        <OutcomeNote outcome={outcome} />
      </header>
      <dl className="facts">
        <div>
          <dt>Confidence</dt>
          <dd>{percent(s.confidence)}</dd>
        </div>
        <div>
          <dt>Precision here</dt>
          <dd>
            {s.explanation.precision == null ? (
              'not measured'
            ) : (
              <>
                {percent(s.explanation.precision)}
                {s.explanation.precisionIsEstimate && <span className="hint"> estimated</span>}
              </>
            )}
          </dd>
        </div>
        <div>
          <dt>Cluster</dt>
          <dd>{s.cluster?.label ?? 'none'}</dd>
        </div>
        <div>
          <dt>Spend, 365 days</dt>
          <dd>{money.format(s.customerValue)}</dd>
        </div>
        <div>
          <dt>Model</dt>
          <dd>{s.modelVersion.version}</dd>
        </div>
      </dl>
      <p className="why">{s.explanation.text}</p>
      <div className="customer">
        <p>{profile.length > 0 ? profile.join(' · ') : 'No profile fields'}</p>
        <p>
          <span className="label">Tags now:</span>{' '}
          {s.customer.tags.length === 0
            ? 'none'
            : s.customer.tags
                .map((t) => t.tag.name.concat(` (${t.source.toLowerCase()})`))
                .join(', ')}
        </p>
        <p>
          <span className="label">Recent activity:</span>{' '}
          {s.customer.events.edges.length === 0
            ? 'no events'
            : s.customer.events.edges
                .map(({ node: e }) =>
                  [
                    e.type,
                    e.category,
                    e.amount != null ? `${money.format(e.amount)} ${e.currency ?? ''}`.trim() : '',
                    new Date(e.occurredAt).toLocaleDateString(),
                  ]
                    .filter(Boolean)
                    .join(' '),
                )
                .join(' · ')}
        </p>
      </div>
      {children}
    </article>
  );
});

const VERB: Record<string, string> = {
  APPROVED: 'approved',
  REJECTED: 'rejected',
  CORRECTED: 'corrected',
  AUTO_APPLIED: 'auto-applied',
  RETIRED: 'retired',
  SUPERSEDED: 'superseded',
};

function OutcomeNote({ outcome }: { outcome: Outcome | undefined }) {
  if (!outcome) return null;
  switch (outcome.state) {
    case 'sending':
      return <p className="outcome">Sending…</p>;
    case 'skipped':
      return <p className="outcome">Skipped</p>;
    case 'failed':
      return (
        <p className="outcome error" role="alert">
          Not decided: {outcome.message} ({outcome.code})
        </p>
      );
    case 'decided':
    case 'taken':
      return (
        <p className={`outcome ${outcome.status.toLowerCase()}`}>{describeOutcome(outcome)}</p>
      );
  }
}

/** "Approved by you at …", or "Already approved by NAME at …" when someone decided first. */
export function describeOutcome(outcome: Extract<Outcome, { state: 'decided' | 'taken' }>) {
  const verb = VERB[outcome.status] ?? outcome.status.toLowerCase();
  const corrected = outcome.correctedTag ? ` to ${outcome.correctedTag}` : '';
  const by = outcome.reviewedBy ? ` by ${outcome.reviewedBy}` : '';
  const at = outcome.reviewedAt ? ` at ${when(outcome.reviewedAt)}` : '';
  if (outcome.state === 'taken') return `Already ${verb}${corrected}${by}${at}: decided first`;
  const text = `${verb[0]!.toUpperCase()}${verb.slice(1)}${corrected}${by}${at}`;
  return outcome.note ? `${text}: “${outcome.note}”` : text;
}
