// snapgrad: everything public is exported from here.
export { init, info, type InitOptions, type Info } from './runtime/loader.js';
export { memoryStats } from './runtime/stats.js';
export { Tensor } from './tensor/tensor.js';
export type { DType } from './tensor/dtypes.js';
export { tensor, zeros, ones, full, randn, rand, randint, type TensorOptions, type RandomOptions } from './tensor/creation.js';
export { tidy, keep } from './tensor/scope.js';
