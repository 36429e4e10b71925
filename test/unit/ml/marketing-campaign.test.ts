import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  predictTags,
  trainClassifier,
  type TrainingResult,
} from '../../../src/ml/classifier/index.js';
import { explainPredictions } from '../../../src/ml/explain.js';
import { createMatrix, selectRowValues } from '../../../src/ml/matrix.js';
import {
  type FeatureMatrix,
  type FeatureRow,
  fitPreprocessor,
  type Preprocessor,
  transformFeatures,
} from '../../../src/ml/preprocessing.js';

// The public "Customer Personality Analysis" data set, kept beside the repo (as CI has it).
const DATASET = fileURLToPath(
  new URL('../../../../shared/datasets/marketing_campaign.csv', import.meta.url),
);
const available = existsSync(DATASET);
if (!available) console.warn(`skipping the real-data check: ${DATASET} is missing`);

// Tenure is measured from a fixed day just after the last enrolment, so results never drift.
const AS_OF = Date.UTC(2014, 11, 31);

function toFeatures(record: Record<string, string>): FeatureRow {
  const number = (column: string) => {
    const value = record[column]?.trim();
    return value ? Number(value) : null;
  };
  const [day, month, year] = record.Dt_Customer!.split('-').map(Number);
  return {
    income: number('Income'),
    kids: number('Kidhome'),
    teens: number('Teenhome'),
    recency_days: number('Recency'),
    mnt_wines: number('MntWines'),
    mnt_fruits: number('MntFruits'),
    mnt_meat: number('MntMeatProducts'),
    mnt_fish: number('MntFishProducts'),
    mnt_sweets: number('MntSweetProducts'),
    mnt_gold: number('MntGoldProds'),
    num_deals_purchases: number('NumDealsPurchases'),
    num_web_purchases: number('NumWebPurchases'),
    num_catalog_purchases: number('NumCatalogPurchases'),
    num_store_purchases: number('NumStorePurchases'),
    num_web_visits_month: number('NumWebVisitsMonth'),
    accepted_cmp1: number('AcceptedCmp1'),
    accepted_cmp2: number('AcceptedCmp2'),
    accepted_cmp3: number('AcceptedCmp3'),
    accepted_cmp4: number('AcceptedCmp4'),
    accepted_cmp5: number('AcceptedCmp5'),
    complain: number('Complain'),
    age: 2014 - Number(record.Year_Birth),
    days_since_enrolment: (AS_OF - Date.UTC(year!, month! - 1, day!)) / 86_400_000,
    education: record.Education!,
    marital_status: record.Marital_Status!,
  };
}

describe.skipIf(!available)('marketing campaign data: predicting Response', () => {
  // One split is noisy (±0.015 AUC with 100 test positives), so besides the fixed seed the
  // average over five stratified 70/30 splits is checked too.
  const SEEDS = [42, 43, 44, 45, 46];
  let rows: FeatureRow[];
  let preprocessor: Preprocessor;
  let features: FeatureMatrix;
  const results = new Map<number, TrainingResult>();

  beforeAll(async () => {
    const records: Record<string, string>[] = parse(readFileSync(DATASET), {
      columns: true,
      skip_empty_lines: true,
    });
    expect(records.length).toBe(2240);
    rows = records.map(toFeatures);
    const labels = Float32Array.from(records, (r) => Number(r.Response));
    preprocessor = fitPreprocessor(rows);
    features = transformFeatures(preprocessor, rows);
    for (const seed of SEEDS) {
      const result = await trainClassifier(
        { features, columns: features.columns, tags: ['response'], labels },
        { seed, testFraction: 0.3 },
      );
      const { meta } = result.model;
      const [metrics] = meta.evaluations;
      console.log(
        `marketing_campaign Response, seed ${seed}: held-out ROC AUC ${metrics!.rocAuc?.toFixed(4)}, ` +
          `PR AUC ${metrics!.prAuc?.toFixed(4)}, ${metrics!.heldOut.customers} held-out rows, ` +
          `${meta.epochs} epochs in ${(result.trainingMs / 1000).toFixed(1)} s on ${meta.backend}`,
      );
      results.set(seed, result);
    }
  });

  afterAll(() => {
    for (const result of results.values()) result.model.network.dispose();
  });

  const auc = (seed: number) => results.get(seed)!.model.meta.evaluations[0]!.rocAuc!;

  it('reaches a held-out ROC AUC of at least 0.88 with seed 42 (30% test + 16% validation)', () => {
    const { meta } = results.get(42)!.model;
    expect(meta.params.rows.test).toBe(672);
    const [response] = meta.evaluations;
    expect(response!.mode).toBe('KNOWN');
    expect(response!.heldOut.customers).toBe(672 + meta.params.rows.validation);
    expect(response!.heldOut.positives).toBe(153);
    expect(auc(42)).toBeGreaterThanOrEqual(0.88);
  });

  it('averages about 0.90 over five splits, like a logistic regression', () => {
    const aucs = SEEDS.map(auc);
    const mean = aucs.reduce((a, b) => a + b) / aucs.length;
    console.log(`marketing_campaign Response: mean held-out ROC AUC ${mean.toFixed(4)}`);
    expect(mean).toBeGreaterThanOrEqual(0.89);
    expect(Math.min(...aucs)).toBeGreaterThanOrEqual(0.88);
  });

  it('explains its most likely responders by what raises their score', async () => {
    const { model } = results.get(42)!;
    const probabilities = await predictTags(model, features);
    const top = [...probabilities.keys()]
      .sort((a, b) => probabilities[b]! - probabilities[a]!)
      .slice(0, 20);
    const explanations = await explainPredictions(
      { classifier: model, preprocessor },
      {
        features: createMatrix(
          selectRowValues(features.data, features.cols, top),
          top.length,
          features.cols,
        ),
        raw: top.map((i) => rows[i]!),
        tagIndices: new Int32Array(top.length),
      },
    );
    for (const explanation of explanations) {
      expect(explanation.contributions[0]!.direction).toBe('raises');
    }
  });
});
