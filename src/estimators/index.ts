// Gradient estimators for discrete latents that are not straight-through ops, and the harness that
// measures every estimator against the exact gradient. Exported as `estimators`.
export { reinforce, emaBaseline, type ReinforceOptions, type EmaBaseline, type Baseline } from './reinforce.js';
export { compare, exactGradient, type CompareOptions, type CompareResult, type EstimatorChoice, type EstimatorName, type EstimatorReport, type EstimatorSpec, type ExactGradient, type ExactGradientOptions } from './compare.js';
export { temperature, type TemperatureOptions } from './schedule.js';
