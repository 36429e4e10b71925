import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { graphql, readFragment, type ResultOf } from '../../graphql';
import { useSession } from '../../session';
import { formatAmount, formatScore, formatShare, formatWhen, humanize } from '../shared/format';
import { ErrorNote, Loading, PageHeading } from '../shared/Page';

// Page sizes stay small: the operation's cost (TAGWISE_MAX_QUERY_COST) counts what is under a
// paginated field `first` times, and a person reads the latest changes first anyway.
const HISTORY_PAGE = 15;
const EVENTS_PAGE = 15;

// The first page of history and the older ones the reader asks for list the same entries.
const HistoryEntryFragment = graphql(`
  fragment HistoryEntry on TagHistoryEntry {
    id
    action
    source
    actor
    note
    occurredAt
    tag {
      name
    }
    relatedTag {
      name
    }
  }
`);

const CustomerQuery = graphql(
  `
    query CustomerPage($id: ID!, $history: Int!, $events: Int!) {
      customer(id: $id) {
        id
        externalId
        name
        email
        phone
        gender
        birthYear
        city
        region
        industry
        companySize
        lifecycleStage
        firstSeenAt
        createdAt
        updatedAt
        attributes
        cluster {
          label
        }
        tags {
          tag {
            id
            name
            category {
              name
            }
          }
          source
          confidence
          modelVersion
          appliedBy
          appliedAt
          note
        }
        suggestions {
          id
          kind
          source
          confidence
          createdAt
          tag {
            name
            category {
              name
            }
          }
          replacesTag {
            name
          }
          explanation {
            text
            precision
            precisionIsEstimate
          }
          modelVersion {
            version
          }
        }
        segments {
          id
          key
          name
        }
        events(first: $events) {
          totalCount
          edges {
            node {
              id
              type
              occurredAt
              channel
              category
              amount
              currency
            }
          }
        }
        tagHistory(first: $history) {
          totalCount
          pageInfo {
            hasNextPage
            endCursor
          }
          edges {
            node {
              ...HistoryEntry
            }
          }
        }
      }
    }
  `,
  [HistoryEntryFragment],
);

// Older changes, a page at a time, once the reader asks for them.
const HistoryQuery = graphql(
  `
    query CustomerHistory($id: ID!, $first: Int!, $after: String) {
      customer(id: $id) {
        id
        tagHistory(first: $first, after: $after) {
          pageInfo {
            hasNextPage
            endCursor
          }
          edges {
            node {
              ...HistoryEntry
            }
          }
        }
      }
    }
  `,
  [HistoryEntryFragment],
);

type Customer = NonNullable<ResultOf<typeof CustomerQuery>['customer']>;
type HistoryEntry = ResultOf<typeof HistoryEntryFragment>;

/** One customer as the API shows it to this key: profile, tags, their history, and what is pending. */
export function CustomerPage(props: { id: string }) {
  const { request } = useSession();
  const customer = useQuery({
    queryKey: ['customer', props.id],
    queryFn: () =>
      request(CustomerQuery, { id: props.id, history: HISTORY_PAGE, events: EVENTS_PAGE }),
  });
  if (customer.isPending) return <Loading what="the customer" />;
  if (customer.isError) {
    return (
      <div className="console-page">
        <PageHeading>Customer</PageHeading>
        <ErrorNote error={customer.error} />
      </div>
    );
  }
  const data = customer.data.customer;
  if (!data) {
    return (
      <div className="console-page">
        <PageHeading>Customer not found</PageHeading>
        <p>
          No customer has the id {props.id}. <Link href="/customers">Search customers</Link>
        </p>
      </div>
    );
  }
  return <CustomerView customer={data} />;
}

function CustomerView({ customer }: { customer: Customer }) {
  return (
    <div className="console-page">
      <PageHeading>{`Customer ${customer.name}`}</PageHeading>
      <p className="hint">
        External id <code>{customer.externalId}</code> · id {customer.id} ·{' '}
        <Link href="/customers">Search customers</Link>
      </p>
      <div className="columns">
        <Profile customer={customer} />
        <section aria-labelledby="segments-heading" className="panel">
          <h2 id="segments-heading">Segments</h2>
          {customer.cluster && (
            <p>
              Model cluster: <strong>{customer.cluster.label}</strong>
            </p>
          )}
          {customer.segments.length === 0 ? (
            <p className="hint">In no saved segment.</p>
          ) : (
            <ul>
              {customer.segments.map((segment) => (
                <li key={segment.id}>
                  {segment.name} <code>segment:{segment.key}</code>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
      <Tags customer={customer} />
      <Suggestions customer={customer} />
      <History customer={customer} />
      <Events customer={customer} />
    </div>
  );
}

function Profile({ customer }: { customer: Customer }) {
  const { viewer } = useSession();
  const fields: [string, string | number | null | undefined][] = [
    ['Name', customer.name],
    ['Email', customer.email],
    ['Phone', customer.phone],
    ['Gender', customer.gender],
    ['Birth year', customer.birthYear],
    ['City', customer.city],
    ['Region', customer.region],
    ['Industry', customer.industry],
    ['Company size', customer.companySize],
    ['Lifecycle stage', customer.lifecycleStage],
    ['First seen', formatWhen(customer.firstSeenAt)],
    ['Created', formatWhen(customer.createdAt)],
    ['Updated', formatWhen(customer.updatedAt)],
  ];
  const attributes = Object.entries(customer.attributes);
  return (
    <section aria-labelledby="profile-heading" className="panel">
      <h2 id="profile-heading">Profile</h2>
      {!viewer.permissions.includes('PII') && (
        <p className="hint">
          Personal data is masked for this key (it lacks the PII permission): name, email, phone and
          personal traits read as the API masks them.
        </p>
      )}
      <dl className="profile-facts">
        {fields.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value ?? '—'}</dd>
          </div>
        ))}
        {attributes.map(([key, value]) => (
          <div key={`attribute:${key}`}>
            <dt>
              <code>{key}</code>
            </dt>
            {/* A personal number or boolean comes masked as null. */}
            <dd>{value == null ? '—' : String(value)}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function Tags({ customer }: { customer: Customer }) {
  return (
    <section aria-labelledby="tags-heading">
      <h2 id="tags-heading">Tags ({customer.tags.length})</h2>
      {customer.tags.length === 0 ? (
        <p className="hint">The customer holds no tags.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Tag</th>
              <th scope="col">Category</th>
              <th scope="col">Source</th>
              <th scope="col">Confidence</th>
              <th scope="col">Applied by</th>
              <th scope="col">Applied</th>
              <th scope="col">Note</th>
            </tr>
          </thead>
          <tbody>
            {customer.tags.map((applied) => (
              <tr key={applied.tag.id}>
                <th scope="row">{applied.tag.name}</th>
                <td>{applied.tag.category.name}</td>
                <td>
                  {humanize(applied.source)}
                  {applied.modelVersion && <span className="hint"> · {applied.modelVersion}</span>}
                </td>
                <td>{formatScore(applied.confidence)}</td>
                <td>{applied.appliedBy ?? '—'}</td>
                <td>{formatWhen(applied.appliedAt)}</td>
                <td>{applied.note ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Suggestions({ customer }: { customer: Customer }) {
  return (
    <section aria-labelledby="suggestions-heading">
      <h2 id="suggestions-heading">Pending suggestions ({customer.suggestions.length})</h2>
      {customer.suggestions.length === 0 ? (
        <p className="hint">Nothing awaits review for this customer.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Tag</th>
              <th scope="col">Category</th>
              <th scope="col">Kind</th>
              <th scope="col">Confidence</th>
              <th scope="col">Precision at it</th>
              <th scope="col">Why</th>
              <th scope="col">Model</th>
            </tr>
          </thead>
          <tbody>
            {customer.suggestions.map((suggestion) => (
              <tr key={suggestion.id}>
                <th scope="row">{suggestion.tag.name}</th>
                <td>{suggestion.tag.category.name}</td>
                <td>
                  {suggestion.kind === 'CORRECTION' && suggestion.replacesTag
                    ? `replace ${suggestion.replacesTag.name}`
                    : humanize(suggestion.kind)}
                  <span className="hint"> · {humanize(suggestion.source)}</span>
                </td>
                <td>{formatScore(suggestion.confidence)}</td>
                <td>
                  {formatShare(suggestion.explanation.precision)}
                  {suggestion.explanation.precisionIsEstimate && (
                    <span className="hint"> (estimated)</span>
                  )}
                </td>
                <td>{suggestion.explanation.text}</td>
                <td className="hint">{suggestion.modelVersion.version}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function History({ customer }: { customer: Customer }) {
  const { request } = useSession();
  const first = customer.tagHistory;
  // Pages after the first, fetched on demand with the cursor the previous page ended on.
  const older = useInfiniteQuery({
    queryKey: ['customer-history', customer.id, first.pageInfo.endCursor],
    queryFn: ({ pageParam }) =>
      request(HistoryQuery, { id: customer.id, first: HISTORY_PAGE, after: pageParam }),
    initialPageParam: first.pageInfo.endCursor,
    getNextPageParam: (last) =>
      last.customer?.tagHistory.pageInfo.hasNextPage
        ? last.customer.tagHistory.pageInfo.endCursor
        : undefined,
    enabled: false,
  });
  const entries: HistoryEntry[] = [
    ...first.edges.map((edge) => readFragment(HistoryEntryFragment, edge.node)),
    ...(older.data?.pages ?? []).flatMap(
      (page) =>
        page.customer?.tagHistory.edges.map((edge) =>
          readFragment(HistoryEntryFragment, edge.node),
        ) ?? [],
    ),
  ];
  const more = older.data
    ? older.hasNextPage
    : first.pageInfo.hasNextPage && first.pageInfo.endCursor !== null;
  return (
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">Tag history ({first.totalCount} changes)</h2>
      {entries.length === 0 ? (
        <p className="hint">No tag has changed yet.</p>
      ) : (
        <ol className="timeline" aria-label="Tag changes, newest first">
          {entries.map((entry) => (
            <li key={entry.id}>
              <time dateTime={entry.occurredAt}>{formatWhen(entry.occurredAt)}</time>
              <span className={`action action-${entry.action.toLowerCase()}`}>
                {humanize(entry.action)}
              </span>{' '}
              <strong>{entry.tag.name}</strong>
              {entry.relatedTag && (
                <>
                  {entry.action === 'MERGED' ? ' into ' : ' by '}
                  <strong>{entry.relatedTag.name}</strong>
                </>
              )}
              <span className="hint">
                {' '}
                · {humanize(entry.source)}
                {entry.actor && ` · ${entry.actor}`}
                {entry.note && ` · “${entry.note}”`}
              </span>
            </li>
          ))}
        </ol>
      )}
      {older.isError && <ErrorNote error={older.error} />}
      {more && (
        <button
          type="button"
          disabled={older.isFetching}
          onClick={() => void (older.data ? older.fetchNextPage() : older.refetch())}
        >
          {older.isFetching ? 'Loading…' : 'Show older changes'}
        </button>
      )}
    </section>
  );
}

function Events({ customer }: { customer: Customer }) {
  const events = customer.events;
  return (
    <section aria-labelledby="events-heading">
      <h2 id="events-heading">
        Recent events ({events.edges.length} of {events.totalCount})
      </h2>
      {events.edges.length === 0 ? (
        <p className="hint">No events recorded.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Type</th>
              <th scope="col">Channel</th>
              <th scope="col">Category</th>
              <th scope="col">Amount</th>
            </tr>
          </thead>
          <tbody>
            {events.edges.map(({ node: event }) => (
              <tr key={event.id}>
                <td>{formatWhen(event.occurredAt)}</td>
                <td>{humanize(event.type)}</td>
                <td>{event.channel ? humanize(event.channel) : '—'}</td>
                <td>{event.category ?? '—'}</td>
                <td>{formatAmount(event.amount, event.currency)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
