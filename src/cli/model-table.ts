import type { TagEvaluation } from '../ml/classifier/index.js';

const num = (v: number | null, digits = 3) => (v === null ? '–' : v.toFixed(digits));

/** Precision as reported: counted on known labels, or "~0.91" when it is the PU estimate. */
export function precisionText(e: TagEvaluation): string {
  if (e.precision !== null) return num(e.precision);
  if (e.estimatedPrecision !== null) return `~${num(e.estimatedPrecision)}`;
  return '–';
}

/**
 * Per-tag evaluations as a table for people: labels, mode, held-out metrics, threshold, and
 * under it every reason a tag is not confident and how each PU estimate was made.
 */
export function formatEvaluations(evaluations: readonly TagEvaluation[]): string {
  const header = [
    'tag'.padEnd(24),
    'mode'.padEnd(5),
    'positives'.padStart(9),
    'negatives'.padStart(9),
    'unlabelled'.padStart(10),
    'ROC AUC'.padStart(7),
    'PR AUC'.padStart(6),
    'precision'.padStart(9),
    'interval'.padStart(11),
    'recall'.padStart(6),
    'F1'.padStart(5),
    'threshold'.padStart(9),
    ' confident',
  ].join('  ');
  const lines = [header];
  const notes: string[] = [];
  for (const e of evaluations) {
    const auc = e.rocAuc ?? e.estimatedRocAuc;
    lines.push(
      [
        e.tag.padEnd(24),
        e.mode.padEnd(5),
        String(e.positives).padStart(9),
        String(e.negatives).padStart(9),
        String(e.unlabelled).padStart(10),
        `${e.rocAuc === null && auc !== null ? '~' : ''}${num(auc)}`.padStart(7),
        num(e.prAuc).padStart(6),
        precisionText(e).padStart(9),
        (e.precisionInterval
          ? `${num(e.precisionInterval.low, 2)}–${num(e.precisionInterval.high, 2)}`
          : '–'
        ).padStart(11),
        num(e.recall).padStart(6),
        num(e.f1, 2).padStart(5),
        num(e.threshold).padStart(9),
        e.confident ? ' yes' : ' no',
      ].join('  '),
    );
    if (e.reason) notes.push(`${e.tag}: not confident: ${e.reason}`);
    if (e.note) notes.push(`${e.tag}: ${e.note}`);
    if (e.mode === 'PU') notes.push(`${e.tag}: precision ${e.method}`);
  }
  if (evaluations.some((e) => e.mode === 'PU')) {
    notes.push(
      '~ marks estimates: PU tags have no known negatives, so precision and ROC AUC are estimated from positive and unlabelled customers.',
    );
  }
  return [...lines, ...(notes.length ? ['', ...notes] : [])].join('\n');
}
