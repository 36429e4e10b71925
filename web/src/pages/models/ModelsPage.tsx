import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { graphql, type ResultOf } from '../../graphql';
import { abilities, useSession } from '../../session';
import { ConfirmDialog } from '../shared/ConfirmDialog';
import { formatWhen } from '../shared/format';
import { ErrorNote, Loading, NotForThisRole, PageHeading } from '../shared/Page';
import { OnlinePrecision } from './OnlinePrecision';
import { VersionComparison, VersionPicker } from './VersionComparison';

// Twenty versions with their per-tag evaluations (curves left out) stay far below the cost limit;
// `metrics` is not asked for, as it repeats the evaluations with every curve point.
const VERSIONS = 20;

const VersionsQuery = graphql(`
  query ModelVersions($first: Int!) {
    modelVersions(first: $first) {
      totalCount
      edges {
        node {
          id
          version
          status
          createdAt
          createdBy
          promotedAt
          seed
          backend
          trainingSummary
          tagEvaluations {
            tag
            mode
            confident
            reason
            precision
            estimatedPrecision
            precisionInterval {
              low
              high
            }
            recall
            threshold
            targetPrecision
            heldOutPositives
            heldOutCustomers
          }
        }
      }
    }
  }
`);

const PromoteMutation = graphql(`
  mutation PromoteModelVersion($id: ID!) {
    promoteModelVersion(id: $id) {
      id
      version
      status
      promotedAt
    }
  }
`);

export type Version = ResultOf<typeof VersionsQuery>['modelVersions']['edges'][number]['node'];
export type Evaluation = Version['tagEvaluations'][number];

/** Model versions for data scientists and admins: compare, promote or roll back, see how reviewers received them. */
export function ModelsPage() {
  const { viewer } = useSession();
  if (!abilities(viewer).science) {
    return <NotForThisRole page="Models" who="data scientists and admins" />;
  }
  return <Models />;
}

function Models() {
  const { request } = useSession();
  const versions = useQuery({
    queryKey: ['model-versions'],
    queryFn: () => request(VersionsQuery, { first: VERSIONS }),
  });
  const list = versions.data?.modelVersions.edges.map((edge) => edge.node) ?? [];
  const active = list.find((v) => v.status === 'ACTIVE') ?? null;
  const [left, setLeft] = useState<string | null>(null);
  const [right, setRight] = useState<string | null>(null);
  // Until the reader picks, the active version is compared with the newest other one.
  const leftId = left ?? active?.id ?? list[0]?.id ?? null;
  const rightId = right ?? list.find((v) => v.id !== leftId)?.id ?? null;
  // A promotion changes which version is active: the pair on screen stays as it was.
  const pinPair = () => {
    setLeft(leftId);
    setRight(rightId);
  };

  return (
    <div className="console-page">
      <PageHeading>Models</PageHeading>
      {versions.isPending && <Loading what="model versions" />}
      {versions.isError && <ErrorNote error={versions.error} />}
      {versions.data && (
        <>
          <VersionList
            onPromoted={pinPair}
            versions={list}
            active={active}
            total={versions.data.modelVersions.totalCount}
          />
          {list.length > 0 && (
            <section aria-labelledby="compare-heading">
              <h2 id="compare-heading">Compare versions per tag</h2>
              <div className="inline-form">
                <VersionPicker
                  label="Compare"
                  id="compare-left"
                  versions={list}
                  value={leftId}
                  onChange={setLeft}
                />
                <VersionPicker
                  label="with"
                  id="compare-right"
                  versions={list}
                  value={rightId}
                  onChange={setRight}
                />
              </div>
              <VersionComparison
                left={list.find((v) => v.id === leftId) ?? null}
                right={list.find((v) => v.id === rightId) ?? null}
              />
            </section>
          )}
          <OnlinePrecision
            first={VERSIONS}
            versions={[leftId, rightId].flatMap((id) => list.filter((v) => v.id === id))}
          />
        </>
      )}
    </div>
  );
}

function confidentCount(version: Version): string {
  const confident = version.tagEvaluations.filter((e) => e.confident).length;
  return `${confident} of ${version.tagEvaluations.length} tags confident`;
}

function VersionList(props: {
  versions: Version[];
  active: Version | null;
  total: number;
  onPromoted: () => void;
}) {
  const { request } = useSession();
  const client = useQueryClient();
  const [asked, setAsked] = useState<Version | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const promote = useMutation({
    mutationFn: (version: Version) => request(PromoteMutation, { id: version.id }),
    onSuccess: async (result, version) => {
      const previous = props.active;
      props.onPromoted();
      setAsked(null);
      setDone(
        `${result.promoteModelVersion.version} is now ACTIVE` +
          (previous && previous.id !== version.id ? `; ${previous.version} is RETIRED.` : '.'),
      );
      await client.invalidateQueries({ queryKey: ['model-versions'] });
      await client.invalidateQueries({ queryKey: ['model-online-precision'] });
    },
  });
  const rollsBack = (version: Version) =>
    props.active !== null && version.createdAt < props.active.createdAt;

  return (
    <section aria-labelledby="versions-heading">
      <h2 id="versions-heading">
        Versions ({props.versions.length}
        {props.total > props.versions.length ? ` newest of ${props.total}` : ''})
      </h2>
      <p className="hint">
        Promoting makes a version ACTIVE and retires the one that was: new scoring runs
        (generateSuggestions) use it, and the queue’s pending suggestions stay until such a run
        replaces them. There is no separate rollback: rolling back is promoting the previously
        active version again (<code>promoteModelVersion</code>, or{' '}
        <code>tagwise models promote V</code>), which every retired version allows.
      </p>
      {done && (
        <p role="status" className="ok">
          {done}
        </p>
      )}
      {props.versions.length === 0 ? (
        <p>
          No model has been trained yet: run <code>tagwise train</code> or trainModels.
        </p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Promoted</th>
              <th scope="col">Summary</th>
              <th scope="col">
                <span className="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.versions.map((version) => {
              const summary = version.trainingSummary as { customers?: number; epochs?: number };
              return (
                <tr
                  key={version.id}
                  className={version.status === 'ACTIVE' ? 'active-version' : undefined}
                >
                  <th scope="row">
                    <code>{version.version}</code>
                  </th>
                  <td>
                    <span
                      className={`version-status version-status-${version.status.toLowerCase()}`}
                    >
                      {version.status}
                    </span>
                  </td>
                  <td>
                    {formatWhen(version.createdAt)}
                    {version.createdBy && <span className="hint"> · {version.createdBy}</span>}
                  </td>
                  <td>{formatWhen(version.promotedAt)}</td>
                  <td>
                    {confidentCount(version)}
                    <span className="hint">
                      {summary.customers != null &&
                        ` · ${summary.customers.toLocaleString()} customers`}
                      {summary.epochs != null && ` · ${summary.epochs} epochs`} · seed{' '}
                      {version.seed}
                    </span>
                  </td>
                  <td>
                    {version.status !== 'ACTIVE' && (
                      <button
                        type="button"
                        onClick={() => {
                          promote.reset();
                          setDone(null);
                          setAsked(version);
                        }}
                        aria-label={`${rollsBack(version) ? 'Roll back to' : 'Promote'} ${version.version}`}
                      >
                        {rollsBack(version) ? 'Roll back' : 'Promote'}
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {asked && (
        <ConfirmDialog
          title={rollsBack(asked) ? `Roll back to ${asked.version}?` : `Promote ${asked.version}?`}
          confirm={rollsBack(asked) ? 'Roll back' : 'Promote'}
          busy={promote.isPending}
          error={promote.error}
          onConfirm={() => promote.mutate(asked)}
          onCancel={() => setAsked(null)}
        >
          <p>
            {asked.version} becomes the ACTIVE version
            {props.active ? `, and ${props.active.version} is retired` : ''}. New suggestions come
            from it after the next scoring run. You can undo this by promoting{' '}
            {props.active ? props.active.version : 'another version'} again.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
