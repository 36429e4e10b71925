import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { graphql, type ResultOf } from '../../graphql';
import { abilities, useSession } from '../../session';
import { formatScore, formatShare, formatWhen } from '../shared/format';
import { ErrorNote, Loading, NotForThisRole, PageHeading } from '../shared/Page';

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

// Apart from the list: it counts reviewer decisions (a scan), and the list should not wait on it.
const OnlinePrecisionQuery = graphql(`
  query ModelOnlinePrecision($first: Int!) {
    modelVersions(first: $first) {
      edges {
        node {
          id
          onlinePrecision {
            tag {
              id
              key
              name
            }
            approved
            rejected
            corrected
            precision
            offlinePrecision
            offlineEstimatedPrecision
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

type Version = ResultOf<typeof VersionsQuery>['modelVersions']['edges'][number]['node'];
type Evaluation = Version['tagEvaluations'][number];

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
              <Comparison
                left={list.find((v) => v.id === leftId) ?? null}
                right={list.find((v) => v.id === rightId) ?? null}
              />
            </section>
          )}
          <OnlinePrecision
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

/** A modal confirmation: the browser's dialog keeps focus inside it, and Escape cancels. */
function ConfirmDialog(props: {
  title: string;
  confirm: string;
  busy: boolean;
  error: unknown;
  onConfirm: () => void;
  onCancel: () => void;
  children: ReactNode;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    element?.showModal();
    return () => element?.close();
  }, []);
  return (
    <dialog
      ref={dialog}
      className="confirm"
      aria-labelledby="confirm-title"
      onCancel={(event) => {
        event.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id="confirm-title">{props.title}</h2>
      {props.children}
      {props.error != null && <ErrorNote error={props.error} />}
      <div className="actions">
        <button type="button" onClick={props.onCancel} autoFocus>
          Cancel
        </button>
        <button type="button" className="primary" disabled={props.busy} onClick={props.onConfirm}>
          {props.busy ? 'Working…' : props.confirm}
        </button>
      </div>
    </dialog>
  );
}

function VersionPicker(props: {
  label: string;
  id: string;
  versions: Version[];
  value: string | null;
  onChange: (id: string) => void;
}) {
  return (
    <div>
      <label htmlFor={props.id}>{props.label}</label>
      <select
        id={props.id}
        value={props.value ?? ''}
        onChange={(event) => props.onChange(event.target.value)}
      >
        {props.versions.map((version) => (
          <option key={version.id} value={version.id}>
            {version.version} ({version.status.toLowerCase()})
          </option>
        ))}
      </select>
    </div>
  );
}

function Comparison(props: { left: Version | null; right: Version | null }) {
  const sides = [props.left, props.right].filter((v): v is Version => v !== null);
  const tags = [...new Set(sides.flatMap((v) => v.tagEvaluations.map((e) => e.tag)))].sort();
  const byTag = sides.map((v) => new Map(v.tagEvaluations.map((e) => [e.tag, e])));
  return (
    <table className="comparison">
      <caption className="hint">
        Precision at the tag’s threshold on held-out customers: <em>counted</em> on known labels, or{' '}
        <em>estimated</em> from positive and unlabelled ones (PU), with its 90 % interval.
      </caption>
      <thead>
        <tr>
          <th scope="col" rowSpan={2}>
            Tag
          </th>
          {sides.map((v, i) => (
            <th key={`${v.id}-${i}`} scope="colgroup" colSpan={4}>
              <code>{v.version}</code> <span className="hint">({v.status.toLowerCase()})</span>
            </th>
          ))}
        </tr>
        <tr>
          {sides.map((v, i) => (
            <SideHeadings key={`${v.id}-${i}`} />
          ))}
        </tr>
      </thead>
      <tbody>
        {tags.map((tag) => (
          <tr key={tag}>
            <th scope="row">{tag}</th>
            {byTag.map((evaluations, i) => (
              <EvaluationCells key={i} evaluation={evaluations.get(tag)} />
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SideHeadings() {
  return (
    <>
      <th scope="col">Precision</th>
      <th scope="col">Recall</th>
      <th scope="col">Threshold</th>
      <th scope="col">Held out</th>
    </>
  );
}

function EvaluationCells({ evaluation }: { evaluation: Evaluation | undefined }) {
  if (!evaluation) {
    return (
      <td colSpan={4} className="hint">
        not trained in this version
      </td>
    );
  }
  if (!evaluation.confident) {
    return (
      <>
        <td colSpan={3}>
          <span className="not-confident">not confident</span>
          {evaluation.reason && <span className="hint"> · {evaluation.reason}</span>}
        </td>
        <td>{evaluation.heldOutPositives}</td>
      </>
    );
  }
  const estimated = evaluation.mode === 'PU';
  const precision = estimated ? evaluation.estimatedPrecision : evaluation.precision;
  return (
    <>
      <td>
        {formatShare(precision)} <span className="hint">{estimated ? 'estimated' : 'counted'}</span>
        {evaluation.precisionInterval && (
          <span className="hint">
            {' '}
            ({formatShare(evaluation.precisionInterval.low)}–
            {formatShare(evaluation.precisionInterval.high)})
          </span>
        )}
      </td>
      <td>{formatShare(evaluation.recall)}</td>
      <td>{formatScore(evaluation.threshold)}</td>
      <td>
        {evaluation.heldOutPositives}
        <span className="hint"> of {evaluation.heldOutCustomers}</span>
      </td>
    </>
  );
}

function OnlinePrecision(props: { versions: Version[] }) {
  const { request } = useSession();
  const online = useQuery({
    queryKey: ['model-online-precision'],
    queryFn: () => request(OnlinePrecisionQuery, { first: VERSIONS }),
  });
  const byId = new Map(online.data?.modelVersions.edges.map((edge) => [edge.node.id, edge.node]));
  return (
    <section aria-labelledby="online-heading">
      <h2 id="online-heading">Online precision per tag</h2>
      <p className="hint">
        How reviewers received each version’s suggestions: approved ÷ (approved + rejected +
        corrected), next to the precision measured offline at training time. Retired, superseded and
        unreviewed auto-applied suggestions are no one’s verdict and do not count.
      </p>
      {online.isPending && <Loading what="online precision" />}
      {online.isError && <ErrorNote error={online.error} />}
      {online.data && (
        <div className="columns">
          {props.versions.map((version, i) => {
            const rows = byId.get(version.id)?.onlinePrecision ?? [];
            const headingId = `online-${i}`;
            return (
              <section key={`${version.id}-${i}`} aria-labelledby={headingId} className="panel">
                <h3 id={headingId}>
                  <code>{version.version}</code>
                </h3>
                {rows.length === 0 ? (
                  <p className="hint">No reviewer has decided a suggestion of this version yet.</p>
                ) : (
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Tag</th>
                        <th scope="col">Online</th>
                        <th scope="col">Offline</th>
                        <th scope="col">Approved</th>
                        <th scope="col">Rejected</th>
                        <th scope="col">Corrected</th>
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((row) => (
                        <tr key={row.tag.id}>
                          <th scope="row">{row.tag.name}</th>
                          <td>{formatShare(row.precision)}</td>
                          <td>
                            {row.offlinePrecision != null
                              ? `${formatShare(row.offlinePrecision)} counted`
                              : row.offlineEstimatedPrecision != null
                                ? `${formatShare(row.offlineEstimatedPrecision)} estimated`
                                : '—'}
                          </td>
                          <td>{row.approved}</td>
                          <td>{row.rejected}</td>
                          <td>{row.corrected}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </section>
            );
          })}
        </div>
      )}
    </section>
  );
}
