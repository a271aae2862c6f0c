// Layers and training utilities, exported as `nn` (modules) and `optim` (optimizers, schedules).
export { Module, type ParamInfo } from './module.js';
export { Linear, BinaryLinear, QuantLinear, type LinearOptions, type BinaryLinearOptions, type QuantLinearOptions } from './linear.js';
export { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from './batchnorm.js';
export { MaxPool2d, AvgPool2d, GlobalAvgPool2d, type Pool2dLayerOptions } from './pool.js';
export { Sequential, ReLU, Tanh, Sigmoid, Hardtanh, Sign, Binarize, Flatten, Dropout, Identity, type SequentialStep } from './layers.js';
export { VectorQuantizer, type VectorQuantizerOptions, type QuantizeResult } from './vector-quantizer.js';
export { summary, type ModelSummary, type LayerSummary, type SummaryOptions } from './summary.js';
export { freeze, type FreezeOptions } from '../freeze/compile.js';
export { FrozenModel } from '../freeze/model.js';
export type { FrozenStage, Activation } from '../freeze/types.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { LayerNorm, type LayerNormOptions } from './layernorm.js';
export { EntropyBottleneck, type EntropyBottleneckOptions, type BottleneckResult, type RoundingMode } from './entropy-bottleneck.js';
export { ResidualVQ, type ResidualQuantizeResult } from './residual-vq.js';
export { FSQ, type FsqResult } from './fsq.js';
export { LFQ, type LFQOptions, type LfqResult } from './lfq.js';
