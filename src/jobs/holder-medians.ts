import type { FeatureRow, Preprocessor } from '../ml/preprocessing.js';

/** What explanations compare a customer with, per tag: its holders' median of each feature. */
export interface HolderMedians {
  tags: Record<string, Record<string, number>>;
}

/** Saved beside the model, read by every scoring worker. */
export const HOLDERS_FILE = 'holders.json';

function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}

/**
 * The median of every numeric, non-flag feature among each tag's labelled holders (the customers
 * the model learnt the tag from), next to which a reviewer reads a customer's value.
 */
export function holderMedians(
  preprocessor: Preprocessor,
  rows: readonly FeatureRow[],
  tags: readonly { key: string; holders: readonly number[] }[],
): HolderMedians {
  const numeric = preprocessor.features.filter((f) => f.kind === 'numeric' && !f.binary);
  return {
    tags: Object.fromEntries(
      tags.map((tag) => [
        tag.key,
        Object.fromEntries(
          numeric.flatMap((f) => {
            const values = tag.holders
              .map((i) => rows[i]![f.name])
              .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
            return values.length ? [[f.name, median(values)]] : [];
          }),
        ),
      ]),
    ),
  };
}
