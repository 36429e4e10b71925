import type * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../backend.js';
import type { TagEvaluation } from './evaluate.js';

/** Everything about a trained classifier but its weights; plain JSON, saved inside model.json. */
export interface ClassifierMeta {
  /** 2: honest per-tag evaluations (1, before, weighed unlabelled customers into its metrics). */
  version: 2;
  tags: string[];
  columns: string[];
  /** Mean of every input column on the training rows: the baseline explanations compare to. */
  columnMeans: number[];
  /** Per tag; null when the tag is not confident (see its evaluation's reason). */
  thresholds: (number | null)[];
  targetPrecisions: number[];
  seed: number;
  backend: BackendName;
  epochs: number;
  bestEpoch: number;
  /** Per tag, on held-out customers; see TagEvaluation. */
  evaluations: TagEvaluation[];
  /** Per tag, its exclusive category or null: only the best of such a category is suggested. */
  exclusive: (string | null)[];
  params: {
    hiddenUnits: number[];
    linearPath: boolean;
    l2: number;
    learningRate: number;
    batchSize: number;
    /** Training-loss weights per tag; they never enter a metric. */
    classWeights: { positive: number; negative: number }[];
    minKnownNegatives: number;
    split: { validationFraction: number; testFraction: number };
    rows: { train: number; validation: number; test: number };
  };
}

/** A trained multi-label classifier: the network outputs one logit per tag. */
export interface TagClassifier {
  network: tf.LayersModel;
  meta: ClassifierMeta;
}
