// Optimizers and learning-rate schedules, exported as `optim`.
export { Optimizer, SGD, Adam, AdamW, Bop, Chain, type SGDOptions, type AdamOptions, type BopOptions, type ParamGroup } from './optim.js';
export { LRSchedule, StepLR, CosineLR } from './schedules.js';
export { clipGradNorm, type ClipGradNormOptions } from './clip-grad.js';
export type { OptimizerState, ScheduleState, StateValue } from './state.js';
