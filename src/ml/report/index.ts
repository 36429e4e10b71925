export { calibrationByTag } from './calibration.js';
export { escapeHtml } from './html.js';
export { distinctiveColumns } from './segments.js';
export { renderTrainingReport, type TrainingReportInput } from './training-report.js';
