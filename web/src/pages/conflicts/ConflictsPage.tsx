import {
  useInfiniteQuery,
  useMutation,
  useQueryClient,
  type InfiniteData,
} from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link } from 'wouter';
import { graphql, readFragment, type ResultOf, type VariablesOf } from '../../graphql';
import { abilities, useSession } from '../../session';
import { formatWhen, humanize } from '../shared/format';
import { ErrorNote, Loading, NotForThisRole, PageHeading } from '../shared/Page';

const PAGE = 25;

const ConflictFields = graphql(`
  fragment ConflictRow on RuleConflict {
    id
    kind
    createdAt
    lastSeenAt
    resolution
    resolvedAt
    resolvedBy
    customer {
      id
      externalId
      name
    }
    rule {
      id
      name
      text
    }
    tag {
      id
      name
    }
  }
`);

const ConflictsQuery = graphql(
  `
    query RuleConflicts($first: Int!, $after: String, $resolved: Boolean!) {
      ruleConflicts(first: $first, after: $after, resolved: $resolved) {
        totalCount
        pageInfo {
          hasNextPage
          endCursor
        }
        edges {
          node {
            ...ConflictRow
          }
        }
      }
    }
  `,
  [ConflictFields],
);

const ResolveMutation = graphql(
  `
    mutation ResolveRuleConflict($id: ID!, $resolution: RuleConflictResolution!) {
      resolveRuleConflict(id: $id, resolution: $resolution) {
        ...ConflictRow
      }
    }
  `,
  [ConflictFields],
);

type Conflict = ResultOf<typeof ConflictFields>;
type Resolution = VariablesOf<typeof ResolveMutation>['resolution'];
type Pages = InfiniteData<ResultOf<typeof ConflictsQuery>>;

/** What the rule wanted, against what a reviewer had decided. */
const KIND_TEXT: Record<Conflict['kind'], string> = {
  APPLY_REJECTED: 'Rule would apply a tag a reviewer rejected',
  RETRACT_APPROVED: 'Rule would remove a tag a reviewer approved',
  REPLACE_APPROVED: 'Rule would replace a tag a reviewer approved in its category',
};

const RESOLUTION_TEXT: Record<Resolution, string> = {
  KEEP_DECISION: 'Reviewer’s decision kept',
  ACCEPT_RULE: 'Rule accepted',
};

/** Rule conflicts for data scientists and admins, who may resolve them either way. */
export function ConflictsPage() {
  const { viewer } = useSession();
  if (!abilities(viewer).rules) {
    return <NotForThisRole page="Rule conflicts" who="data scientists and admins" />;
  }
  return <Conflicts />;
}

function Conflicts() {
  const { request } = useSession();
  const [resolved, setResolved] = useState(false);
  const conflicts = useInfiniteQuery({
    queryKey: ['rule-conflicts', resolved],
    queryFn: ({ pageParam }) =>
      request(ConflictsQuery, { first: PAGE, after: pageParam, resolved }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) =>
      last.ruleConflicts.pageInfo.hasNextPage ? last.ruleConflicts.pageInfo.endCursor : undefined,
  });
  const rows =
    conflicts.data?.pages.flatMap((page) =>
      page.ruleConflicts.edges.map((edge) => readFragment(ConflictFields, edge.node)),
    ) ?? [];
  const total = conflicts.data?.pages[0]?.ruleConflicts.totalCount ?? 0;

  return (
    <div className="console-page">
      <PageHeading>Rule conflicts</PageHeading>
      <p className="hint">
        A rule run withholds a change a reviewer decided against. Keep the decision (later runs stay
        silent until the customer’s tag changes), or accept the rule (its change is made now, source
        RULE, in your name).
      </p>
      <fieldset className="inline-form">
        <legend>Show</legend>
        <label className="choice">
          <input
            type="radio"
            name="conflict-state"
            checked={!resolved}
            onChange={() => setResolved(false)}
          />
          Open
        </label>
        <label className="choice">
          <input
            type="radio"
            name="conflict-state"
            checked={resolved}
            onChange={() => setResolved(true)}
          />
          Resolved
        </label>
      </fieldset>
      {conflicts.isPending && <Loading what="rule conflicts" />}
      {conflicts.isError && <ErrorNote error={conflicts.error} />}
      {conflicts.data && (
        <section aria-labelledby="conflicts-heading">
          <h2 id="conflicts-heading">
            {total} {resolved ? 'resolved' : 'open'} conflict{total === 1 ? '' : 's'}
          </h2>
          {rows.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Customer</th>
                  <th scope="col">Rule</th>
                  <th scope="col">Tag</th>
                  <th scope="col">Conflict</th>
                  <th scope="col">When</th>
                  <th scope="col">Resolve</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((conflict) => (
                  <ConflictRow key={conflict.id} conflict={conflict} resolvedView={resolved} />
                ))}
              </tbody>
            </table>
          )}
          {conflicts.hasNextPage && (
            <button
              type="button"
              disabled={conflicts.isFetchingNextPage}
              onClick={() => void conflicts.fetchNextPage()}
            >
              {conflicts.isFetchingNextPage ? 'Loading…' : 'Show more conflicts'}
            </button>
          )}
        </section>
      )}
    </div>
  );
}

function ConflictRow(props: { conflict: Conflict; resolvedView: boolean }) {
  const { conflict } = props;
  const { request } = useSession();
  const client = useQueryClient();
  const resolve = useMutation({
    mutationFn: (resolution: Resolution) =>
      request(ResolveMutation, { id: conflict.id, resolution }),
    // The row shows its outcome at once and stays where it is until the list is next loaded,
    // so the reader's place (and focus) in the table does not jump.
    onSuccess: ({ resolveRuleConflict: masked }) => {
      const updated = readFragment(ConflictFields, masked);
      client.setQueryData<Pages>(
        ['rule-conflicts', props.resolvedView],
        (data) =>
          data && {
            ...data,
            pages: data.pages.map((page) => ({
              ...page,
              ruleConflicts: {
                ...page.ruleConflicts,
                edges: page.ruleConflicts.edges.map((edge) =>
                  readFragment(ConflictFields, edge.node).id === updated.id
                    ? { ...edge, node: masked }
                    : edge,
                ),
              },
            })),
          },
      );
      void client.invalidateQueries({ queryKey: ['rule-conflicts', !props.resolvedView] });
      void client.invalidateQueries({ queryKey: ['customer', updated.customer.id] });
    },
  });
  // The buttons go once the conflict is resolved: focus moves to the outcome that replaces them
  // rather than falling back to the top of the page.
  const outcome = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (resolve.isSuccess) outcome.current?.focus();
  }, [resolve.isSuccess]);
  const who = `${conflict.customer.name} (${conflict.customer.externalId})`;
  return (
    <tr>
      <th scope="row">
        <Link href={`/customers/${conflict.customer.id}`}>{conflict.customer.name}</Link>
        <span className="hint">
          {' '}
          <code>{conflict.customer.externalId}</code>
        </span>
      </th>
      <td>
        {conflict.rule.name}
        <div className="hint">
          <code>{conflict.rule.text}</code>
        </div>
      </td>
      <td>{conflict.tag.name}</td>
      <td>
        {KIND_TEXT[conflict.kind]}
        <div className="hint">{humanize(conflict.kind)}</div>
      </td>
      <td>
        {formatWhen(conflict.createdAt)}
        {conflict.lastSeenAt !== conflict.createdAt && (
          <div className="hint">last seen {formatWhen(conflict.lastSeenAt)}</div>
        )}
      </td>
      <td>
        {conflict.resolution ? (
          <p role="status" className="ok resolution" tabIndex={-1} ref={outcome}>
            {RESOLUTION_TEXT[conflict.resolution]}
            <span className="hint">
              {' '}
              by {conflict.resolvedBy ?? 'someone'}, {formatWhen(conflict.resolvedAt)}
            </span>
          </p>
        ) : (
          <div className="actions">
            <button
              type="button"
              disabled={resolve.isPending}
              onClick={() => resolve.mutate('KEEP_DECISION')}
              aria-label={`Keep the reviewer’s decision for ${who}`}
            >
              Keep decision
            </button>
            <button
              type="button"
              disabled={resolve.isPending}
              onClick={() => resolve.mutate('ACCEPT_RULE')}
              aria-label={`Accept the rule for ${who}`}
            >
              Accept rule
            </button>
          </div>
        )}
        {resolve.isError && <ErrorNote error={resolve.error} />}
      </td>
    </tr>
  );
}
