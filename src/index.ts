// snapgrad: everything public is exported from here.
import './ops/methods.js';

export { init, info, setThreads, type InitOptions, type Info, type SetThreadsOptions } from './runtime/loader.js';
export { memoryStats, type MemoryStats } from './runtime/stats.js';
export { Tensor } from './tensor/tensor.js';
export type { DType } from './tensor/dtypes.js';
export { tensor, zeros, ones, full, randn, rand, randint, type TensorOptions, type RandomOptions } from './tensor/creation.js';
export { seed, rngState, setRngState, type RngState } from './tensor/random.js';
export { tidy, keep } from './tensor/scope.js';
export { markModified } from './tensor/derived.js';

export { noGrad, backward } from './autograd/tape.js';
export { customGrad, type CustomGradSpec } from './autograd/custom.js';
export { stopGradient, detach } from './freeze/traced.js';
export { gradcheck, type GradcheckOptions, type GradcheckResult } from './autograd/gradcheck.js';

export type { TensorLike } from './ops/elementwise.js';
// The ops a forward can call, wrapped so that freeze/summary can trace them (src/freeze/traced.ts).
export { add, sub, mul, div, maximum, minimum, pow, neg, relu, exp, log, tanh, sigmoid, square, sqrt, abs, clip } from './freeze/traced.js';
export type { MatmulOptions } from './ops/matmul.js';
export { matmul } from './freeze/traced.js';
export type { ReduceOptions } from './ops/reduce.js';
export { sum, mean, max, argmax } from './freeze/traced.js';
export { reshape, transpose, slice, concat, gather, cast } from './freeze/traced.js';
export { broadcastTo, pad, expandDims, squeeze, stack, split, oneHot, topk, bincount } from './freeze/traced.js';
export type { TopkOptions, BincountOptions } from './ops/indexing.js';
export { crossEntropy, mse } from './ops/losses.js';
export { softmax, logSoftmax } from './freeze/traced.js';
export { min, argmin, logsumexp } from './freeze/traced.js';
export type { Conv2dOptions } from './ops/conv.js';
export { conv2d } from './freeze/traced.js';
export type { SoftmaxAxis } from './ops/losses.js';
export { batchNorm, type BatchNormOpOptions } from './ops/batchnorm.js';
// sign/round/floor with their true gradient (0); sg.ste.sign/round/floor pass a surrogate gradient.
export { sign, round, floor } from './freeze/traced.js';
export { maxPool2d, avgPool2d, globalAvgPool2d } from './freeze/traced.js';
export type { Pool2dOptions } from './ops/pool.js';
export { softplus, logSigmoid, gt, ge, lt, le, eq, ne, where, bceWithLogits, klCategorical } from './freeze/traced.js';

export * as ste from './freeze/traced-ste.js';
export * as nn from './nn/index.js';
export { summary, freeze, FrozenModel } from './nn/index.js';
export * as optim from './nn/optim-index.js';
export { vqNearest, vqEmaUpdate, type VqEmaOptions } from './kernels/vq.js';
export * as io from './io/index.js';
export { packBits, packedWords } from './kernels/bitpack.js';
export { binaryMatmul, binaryMatmulScaled, binaryWeightsMatmul, type BinaryScaleOptions } from './kernels/gemm_b1.js';
export { uint8BinaryMatmul } from './kernels/gemm_u8b1.js';
export { int8Matmul, int8MatmulDequantize, int8MatmulRequantize, type Int8MatmulOptions, type Int8DequantizeOptions, type Int8RequantizeOptions } from './kernels/gemm_s8.js';
export { quantizeInt8, dequantizeInt8, int8Scales, type QuantizeInt8Options, type DequantizeInt8Options, type ScalesOptions } from './kernels/quant_s8.js';
export type { ChannelValues } from './kernels/internal/args.js';
export * as data from './data/index.js';
export * from './train/index.js';
export * as metrics from './train/metrics-index.js';
export * as plot from './plot/index.js';
export * as entropy from './entropy/index.js';
export * as estimators from './estimators/index.js';
