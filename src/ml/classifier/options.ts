import { DEFAULT_PU_OPTIONS, type PuOptions } from '../pu.js';

export interface EpochProgress {
  epoch: number;
  loss: number;
  validationLoss: number;
}

export interface ClassifierOptions {
  seed: number;
  /** Widths of the ReLU layers. */
  hiddenUnits: readonly number[];
  /**
   * Feeds the inputs straight to the output layer too (wide & deep): the network starts from
   * what a logistic regression can do, which matters on small, mostly linear tabular data.
   */
  linearPath: boolean;
  /** L2 penalty on every kernel; with early stopping, the regulariser (dropout would need an unseeded mask). */
  l2: number;
  /**
   * Adam's; 'auto': 3e-3 up to a batch of 128, above that scaled by the square root of the batch
   * size (at most 1e-2), so large data needs fewer steps.
   */
  learningRate: number | 'auto';
  /**
   * Rows per step. 'auto': a power of two giving at least 16 steps per pass over the training rows,
   * within 32–2048, since a step costs about the same whatever its size and small data still needs
   * enough steps. On 100,000 demo customers, batches of 2048 instead of 1024 trained in 15 instead
   * of 23 s (39 epochs instead of 53) with ROC AUC against the personas within ±0.007 per tag.
   */
  batchSize: number | 'auto';
  maxEpochs: number;
  /**
   * Training rows per epoch at most (an epoch then covers part of them, the next carrying on): the
   * unit early stopping counts in stays about as many optimizer steps on any amount of data
   * (16 batches of the largest size), where a full pass over 100,000 customers took twice
   * that and early stopping twice as long to notice the end.
   */
  maxRowsPerEpoch: number;
  /** Epochs without a validation-loss improvement of at least `minDelta` before stopping. */
  patience: number;
  minDelta: number;
  /** Share of all rows held out from training and used for early stopping only. */
  validationFraction: number;
  /**
   * Share of all rows held out from training and early stopping. Thresholds and every reported
   * metric are computed on the held-out rows: validation and test together.
   */
  testFraction: number;
  /** A tag is suggested only above the lowest threshold reaching this precision on held-out rows. */
  targetPrecision: number;
  targetPrecisionByTag: Readonly<Record<string, number>>;
  /** Held-out true positives a threshold must keep, so one lucky top score is not "precise". */
  minTruePositives: number;
  /**
   * Known negatives (not counting reviewers' rejections) a tag needs before it is learnt and
   * measured on known labels alone; with fewer, it is learnt from positive and unlabelled rows.
   */
  minKnownNegatives: number;
  /** Below this held-out ROC AUC a tag without a threshold is reported as ranked too weakly. */
  weakRocAuc: number;
  /**
   * A PU tag's precision estimate assumes its top-ranked customers are nearly all holders; below
   * this estimated ROC AUC that is doubtful, so the tag gets no threshold (see ml/pu.ts).
   */
  minPuRocAuc: number;
  /** 'balanced' weighs each tag's positives and negatives to equal totals, capped below. */
  classWeighting: 'balanced' | 'none';
  maxClassWeight: number;
  /** Scale each tag's loss weights to the same total, whatever its number of learnable cells. */
  equalTagWeight: boolean;
  /** How the label frequency of positive-unlabelled tags is estimated; see ml/pu.ts. */
  pu: PuOptions;
  /** Points kept of each tag's precision–recall curve (for reports and "precision at score"). */
  curvePoints: number;
  predictBatchSize: number;
  onEpoch: ((progress: EpochProgress) => void) | null;
}

export const DEFAULT_CLASSIFIER_OPTIONS: ClassifierOptions = {
  seed: 42,
  hiddenUnits: [32, 16],
  linearPath: true,
  l2: 3e-3,
  learningRate: 'auto',
  batchSize: 'auto',
  maxEpochs: 200,
  maxRowsPerEpoch: 32_768,
  patience: 12,
  minDelta: 1e-4,
  validationFraction: 0.16,
  testFraction: 0.2,
  targetPrecision: 0.9,
  targetPrecisionByTag: {},
  minTruePositives: 5,
  minKnownNegatives: 30,
  weakRocAuc: 0.75,
  minPuRocAuc: 0.9,
  classWeighting: 'balanced',
  maxClassWeight: 20,
  equalTagWeight: true,
  pu: DEFAULT_PU_OPTIONS,
  curvePoints: 40,
  predictBatchSize: 2048,
  onEpoch: null,
};

export function validateOptions(o: ClassifierOptions, tags: readonly string[]): void {
  const positiveInt = (value: number, name: string) => {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`${name} must be a positive integer`);
  };
  o.hiddenUnits.forEach((units, i) => positiveInt(units, `hiddenUnits[${i}]`));
  if (o.batchSize !== 'auto') positiveInt(o.batchSize, 'batchSize');
  positiveInt(o.maxEpochs, 'maxEpochs');
  positiveInt(o.maxRowsPerEpoch, 'maxRowsPerEpoch');
  positiveInt(o.patience, 'patience');
  positiveInt(o.predictBatchSize, 'predictBatchSize');
  positiveInt(o.minTruePositives, 'minTruePositives');
  positiveInt(o.minKnownNegatives, 'minKnownNegatives');
  positiveInt(o.curvePoints, 'curvePoints');
  if (!(o.validationFraction > 0 && o.validationFraction < 1)) {
    throw new RangeError('validationFraction must be in (0, 1)');
  }
  if (!(o.testFraction >= 0 && o.validationFraction + o.testFraction < 1)) {
    throw new RangeError('testFraction must be ≥ 0 and leave rows to train on');
  }
  if (o.learningRate !== 'auto' && !(o.learningRate > 0)) {
    throw new RangeError("learningRate must be positive or 'auto'");
  }
  if (!(o.l2 >= 0)) throw new RangeError('l2 must be non-negative');
  if (!(o.maxClassWeight >= 1)) throw new RangeError('maxClassWeight must be at least 1');
  const targets: [string, number][] = [
    ['targetPrecision', o.targetPrecision],
    ...Object.entries(o.targetPrecisionByTag).map(([tag, target]): [string, number] => {
      if (!tags.includes(tag))
        throw new RangeError(`targetPrecisionByTag names unknown tag ${tag}`);
      return [`targetPrecisionByTag.${tag}`, target];
    }),
  ];
  for (const [name, target] of targets) {
    if (!(target > 0 && target <= 1))
      throw new RangeError(`${name} must be in (0, 1], got ${target}`);
  }
}
