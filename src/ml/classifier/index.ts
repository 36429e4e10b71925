export {
  type CurvePoint,
  type EvaluationInput,
  evaluateTags,
  type TagEvaluation,
  type TagLabelFrequency,
} from './evaluate.js';
export { chooseMode, type ClassifierData, countLabels, type LabelMode } from './labels.js';
export { flushSubnormalWeights } from './network.js';
export {
  type ClassifierOptions,
  DEFAULT_CLASSIFIER_OPTIONS,
  type EpochProgress,
} from './options.js';
export { loadClassifier, saveClassifier } from './persist.js';
export {
  decideTags,
  DEFAULT_PREDICT_OPTIONS,
  predictTags,
  type PredictOptions,
  type TagDecision,
} from './predict.js';
export { trainClassifier, type TrainingResult } from './train.js';
export type { ClassifierMeta, TagClassifier } from './types.js';
