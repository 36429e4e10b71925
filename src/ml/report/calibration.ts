import type { TagEvaluation } from '../classifier/index.js';
import { type CalibrationBin, calibrationCurve } from '../metrics.js';

/**
 * Reliability bins per KNOWN tag from the held-out predictions a training measured on (rows ×
 * tags, row-major, tags in the evaluations' order): only labels that may be measured on count,
 * as in the tag's metrics. PU tags get none: nobody held out is known not to hold them.
 */
export function calibrationByTag(
  heldOut: { probabilities: Float32Array; labels: Float32Array; measurable: Uint8Array },
  evaluations: readonly Pick<TagEvaluation, 'tag' | 'mode'>[],
  bins = 10,
): Record<string, CalibrationBin[]> {
  const t = evaluations.length;
  const rows = heldOut.probabilities.length / t;
  if (!Number.isInteger(rows) || heldOut.labels.length !== heldOut.probabilities.length) {
    throw new RangeError(`held-out arrays do not hold ${t} tags per row`);
  }
  const out: Record<string, CalibrationBin[]> = {};
  evaluations.forEach((e, j) => {
    if (e.mode !== 'KNOWN') return;
    const scores = new Float32Array(rows);
    const known = new Float32Array(rows);
    for (let i = 0; i < rows; i++) {
      scores[i] = heldOut.probabilities[i * t + j]!;
      known[i] = heldOut.measurable[i * t + j] ? heldOut.labels[i * t + j]! : Number.NaN;
    }
    out[e.tag] = calibrationCurve(scores, known, bins);
  });
  return out;
}
