// The training loop and its helpers: fit, evaluate, predict (top level) and metrics (exported as `metrics`).
export { fit, type FitOptions, type History, type EpochLog, type StepInfo, type OptimizerLike } from './fit.js';
export { evaluate, predict, type EvaluateOptions, type EvaluateResult, type PredictOptions } from './evaluate.js';
export type { ModelLike, LossArg, MetricArg, MetricsArg } from './common.js';
export type { ProgressWriter } from './progress.js';
