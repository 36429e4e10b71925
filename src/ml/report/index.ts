export { calibrationByTag } from './calibration.js';
export { escapeHtml } from './html.js';
export { distinctiveColumns, type DistinctiveColumn } from './segments.js';
export {
  MIN_CALIBRATION_LABELS,
  renderTrainingReport,
  type ReportCluster,
  type TrainingReportInput,
} from './training-report.js';
