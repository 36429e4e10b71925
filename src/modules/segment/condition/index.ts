export * from './ast.js';
export {
  compileCondition,
  type CompileContext,
  type CompiledCondition,
  type SqlParam,
} from './compile.js';
export { ConditionError, ConditionSyntaxError, joinPath, type ConditionIssue } from './errors.js';
export { evaluateCondition, type CustomerSnapshot, type EvaluateContext } from './evaluate.js';
export { parseCondition } from './parser.js';
export { printCondition } from './printer.js';
export {
  conditionReferences,
  inlineSegments,
  referencedSegments,
  MAX_SEGMENT_CHAIN,
} from './segments.js';
export { conditionFromJson, shapeIssues } from './shape.js';
export { numericFeatureNames, validateCondition, type ConditionSchema } from './validate.js';
