import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'wouter';
import { graphql, readFragment, type ResultOf } from '../../graphql';
import { useSession } from '../../session';
import { ErrorNote, Loading, PageHeading } from '../shared/Page';

const RESULTS = 20;

// One operation, so it takes one of the key's expensive slots (TAGWISE_MAX_EXPENSIVE_PER_KEY)
// rather than two: external ids by prefix through a segment preview's sample (the customers
// filter has no external-id field), names and emails through the customers search, which the
// API refuses to keys without the PII permission, so those ask for external ids only.
const SearchHit = graphql(`
  fragment SearchHit on Customer {
    id
    externalId
    name
    email
    city
    lifecycleStage
  }
`);

const SearchQuery = graphql(
  `
    query CustomerSearch($text: String!, $externalId: JSON!, $byName: Boolean!) {
      previewSegment(
        definition: {
          definition: { field: { name: EXTERNAL_ID, op: STARTS_WITH, value: $externalId } }
        }
      ) {
        count
        sample {
          ...SearchHit
        }
      }
      customers(first: 20, filter: { search: $text }) @include(if: $byName) {
        totalCount
        edges {
          node {
            ...SearchHit
          }
        }
      }
    }
  `,
  [SearchHit],
);

/** Find a customer by external id (prefix) or, for keys that may see personal data, by name or email. */
export function CustomerSearch() {
  const { request } = useSession();
  const { viewer } = useSession();
  const byName = viewer.permissions.includes('PII');
  const [params, setParams] = useSearchParams();
  const text = params.get('q')?.trim() ?? '';
  const [draft, setDraft] = useState(text);
  const search = useQuery({
    queryKey: ['customer-search', text, byName],
    queryFn: () => request(SearchQuery, { text, externalId: text, byName }),
    enabled: text !== '',
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    setParams(draft.trim() ? { q: draft.trim() } : {});
  }

  const hits = new Map<string, ResultOf<typeof SearchHit>>();
  for (const hit of search.data?.previewSegment.sample ?? []) {
    const row = readFragment(SearchHit, hit);
    hits.set(row.id, row);
  }
  for (const { node } of search.data?.customers?.edges ?? []) {
    const row = readFragment(SearchHit, node);
    hits.set(row.id, row);
  }
  const rows = [...hits.values()].slice(0, RESULTS);

  return (
    <div className="console-page">
      <PageHeading>Customers</PageHeading>
      <form role="search" onSubmit={submit} className="inline-form">
        <div>
          <label htmlFor="customer-query">
            {byName ? 'Name, email or external id' : 'External id'}
          </label>
          <input
            id="customer-query"
            type="search"
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            aria-describedby="customer-query-help"
          />
        </div>
        <button type="submit" className="primary">
          Search
        </button>
      </form>
      <p id="customer-query-help" className="hint">
        External ids match from their start (<code>demo-00001</code>).
        {byName
          ? ' Names and emails match anywhere in them.'
          : ' This key may not search names and emails (it lacks the PII permission).'}
      </p>
      {search.isFetching && <Loading what="customers" />}
      {search.isError && <ErrorNote error={search.error} />}
      {search.data && (
        <section aria-labelledby="results-heading">
          <h2 id="results-heading" role="status">
            {rows.length === 0
              ? `No customer matches “${text}”`
              : `${rows.length} customer${rows.length === 1 ? '' : 's'} matching “${text}”`}
          </h2>
          {rows.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">External id</th>
                  <th scope="col">Email</th>
                  <th scope="col">City</th>
                  <th scope="col">Lifecycle</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.id}>
                    <th scope="row">
                      <Link href={`/customers/${row.id}`}>{row.name}</Link>
                    </th>
                    <td>
                      <code>{row.externalId}</code>
                    </td>
                    <td>{row.email ?? '—'}</td>
                    <td>{row.city ?? '—'}</td>
                    <td>{row.lifecycleStage ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
    </div>
  );
}
