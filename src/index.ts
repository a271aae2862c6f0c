// snapgrad: everything public is exported from here.
import './ops/methods.js';

export { init, info, type InitOptions, type Info } from './runtime/loader.js';
export { memoryStats, type MemoryStats } from './runtime/stats.js';
export { Tensor } from './tensor/tensor.js';
export type { DType } from './tensor/dtypes.js';
export { tensor, zeros, ones, full, randn, rand, randint, type TensorOptions, type RandomOptions } from './tensor/creation.js';
export { seed, rngState, setRngState, type RngState } from './tensor/random.js';
export { tidy, keep } from './tensor/scope.js';
export { markModified } from './tensor/derived.js';

export { noGrad, backward } from './autograd/tape.js';
export { stopGradient, detach, customGrad, type CustomGradSpec } from './autograd/custom.js';
export { gradcheck, type GradcheckOptions, type GradcheckResult } from './autograd/gradcheck.js';

export { add, sub, mul, div, maximum, minimum, neg, relu, exp, log, tanh, sigmoid, square, sqrt, abs, clip, type TensorLike } from './ops/elementwise.js';
export { matmul, type MatmulOptions } from './ops/matmul.js';
export { sum, mean, max, argmax, type ReduceOptions } from './ops/reduce.js';
export { reshape, transpose, slice, concat, gather, cast } from './ops/shape.js';
export { softmax, logSoftmax, crossEntropy, mse } from './ops/losses.js';
export { sign, round, floor } from './ops/discrete.js';

export * as ste from './ste/index.js';
export * as nn from './nn/index.js';
export { summary, freeze, FrozenModel } from './nn/index.js';
export * as optim from './nn/optim-index.js';
export { vqNearest, vqEmaUpdate, type VqEmaOptions } from './kernels/vq.js';
export * as io from './io/index.js';
export { packBits, packedWords } from './kernels/bitpack.js';
export { binaryMatmul, binaryMatmulScaled, binaryWeightsMatmul, type BinaryScaleOptions } from './kernels/gemm_b1.js';
export { uint8BinaryMatmul } from './kernels/gemm_u8b1.js';
export { int8Matmul, int8MatmulDequantize, int8MatmulRequantize, type Int8MatmulOptions, type Int8DequantizeOptions, type Int8RequantizeOptions } from './kernels/gemm_s8.js';
export { quantizeInt8, dequantizeInt8, int8Scales, type QuantizeOptions, type DequantizeOptions, type ScalesOptions, type ChannelValues } from './kernels/quant_s8.js';
export * as data from './data/index.js';
export * from './train/index.js';
export * as metrics from './train/metrics-index.js';
