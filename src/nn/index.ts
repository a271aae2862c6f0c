// Optimizers, exported as `optim`.
export { Optimizer, SGD, type SGDOptions } from './optim.js';
