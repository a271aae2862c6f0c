// Layers and training utilities, exported as `nn` (modules) and `optim` (optimizers, schedules).
export { Module, type ParamInfo } from './module.js';
export { Linear, BinaryLinear, QuantLinear, type LinearOptions, type BinaryLinearOptions, type QuantLinearOptions } from './linear.js';
export { BatchNorm1d, type BatchNormOptions } from './batchnorm.js';
export { Sequential, ReLU, Tanh, Sigmoid, Hardtanh, Sign, Binarize, Flatten, Dropout, Identity, type SequentialStep } from './layers.js';
export { VectorQuantizer, type VectorQuantizerOptions, type QuantizeResult } from './vector-quantizer.js';
export { summary, type ModelSummary, type LayerSummary, type SummaryOptions } from './summary.js';
export { freeze, FrozenModel, type FreezeOptions, type FrozenStage, type Activation } from './freeze.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { LayerNorm, type LayerNormOptions } from './layernorm.js';
