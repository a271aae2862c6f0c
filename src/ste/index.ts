// The straight-through estimator family, exported as `ste`.
export { straightThrough } from './straight.js';
export { sign, binarize, type SignGrad, type SignOptions } from './sign.js';
export { round, floor, quantize, ternarize, dorefa, type QuantizeOptions, type TernarizeOptions, type DorefaOptions } from './quantize.js';
export { argmaxOneHot, gumbelSoftmax, type GumbelSoftmaxOptions } from './choice.js';
export { vq, type VqOptions, type VqResult } from './vq.js';
export { categorical, reinmax, bernoulli, gumbelRao, type StochasticOptions, type BernoulliOptions, type BernoulliGrad, type GumbelRaoOptions } from './stochastic.js';
