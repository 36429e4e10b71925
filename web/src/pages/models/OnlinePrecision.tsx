import { useQuery } from '@tanstack/react-query';
import { graphql } from '../../graphql';
import { useSession } from '../../session';
import { formatShare } from '../shared/format';
import { ErrorNote, Loading } from '../shared/Page';
import type { Version } from './ModelsPage';

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

/** How reviewers received each given version's suggestions, per tag, next to offline precision. */
export function OnlinePrecision(props: { versions: Version[]; first: number }) {
  const { request } = useSession();
  const online = useQuery({
    queryKey: ['model-online-precision'],
    queryFn: () => request(OnlinePrecisionQuery, { first: props.first }),
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
