import { formatScore, formatShare } from '../shared/format';
import type { Evaluation, Version } from './ModelsPage';

export function VersionPicker(props: {
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

/** Two versions' per-tag metrics side by side. */
export function VersionComparison(props: { left: Version | null; right: Version | null }) {
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
