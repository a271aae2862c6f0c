import { detach, stopGradient } from '../autograd/custom.js';
import { floor, round, sign } from '../ops/discrete.js';
import * as div_ from '../ops/divergence.js';
import * as ew from '../ops/elementwise.js';
import * as losses from '../ops/losses.js';
import { matmul } from '../ops/matmul.js';
import { conv2d } from '../ops/conv.js';
import * as red from '../ops/reduce.js';
import * as shp from '../ops/shape.js';
import * as idx from '../ops/indexing.js';
import * as pool from '../ops/pool.js';
import * as ste from '../ste/index.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * The ops freeze() records when a traced forward calls them, by the name a
 * frozen model stores, and replays (float stages) in FrozenModel.predict. Only
 * names in this table can be stored or loaded: a loaded model cannot name any
 * other function. Every op validates its own arguments, as in training.
 */
export const REPLAYABLE_OPS: Readonly<Record<string, (...args: any[]) => Tensor>> = Object.freeze({
  add: ew.add, sub: ew.sub, mul: ew.mul, div: ew.div, maximum: ew.maximum, minimum: ew.minimum, pow: ew.pow,
  neg: ew.neg, relu: ew.relu, exp: ew.exp, log: ew.log, tanh: ew.tanh, sigmoid: ew.sigmoid,
  square: ew.square, sqrt: ew.sqrt, abs: ew.abs, clip: ew.clip,
  matmul,
  sum: red.sum, mean: red.mean, max: red.max, argmax: red.argmax,
  reshape: shp.reshape, transpose: shp.transpose, slice: shp.slice, concat: shp.concat, gather: shp.gather, cast: shp.cast,
  softmax: losses.softmax, logSoftmax: losses.logSoftmax,
  sign, round, floor,
  stopGradient, detach,
  broadcastTo: shp.broadcastTo, pad: shp.pad, expandDims: shp.expandDims, squeeze: shp.squeeze, stack: shp.stack, oneHot: idx.oneHot, bincount: idx.bincount,
  'ste.sign': ste.sign, 'ste.binarize': ste.binarize, 'ste.round': ste.round, 'ste.floor': ste.floor,
  'ste.quantize': ste.quantize, 'ste.ternarize': ste.ternarize, 'ste.dorefa': ste.dorefa, 'ste.argmaxOneHot': ste.argmaxOneHot,
  'ste.categorical': ste.categorical, 'ste.reinmax': ste.reinmax, 'ste.bernoulli': ste.bernoulli, 'ste.gumbelRao': ste.gumbelRao,
  softplus: ew.softplus, logSigmoid: ew.logSigmoid, gt: ew.gt, ge: ew.ge, lt: ew.lt, le: ew.le, eq: ew.eq, ne: ew.ne, where: ew.where,
  bceWithLogits: div_.bceWithLogits, klCategorical: div_.klCategorical,
  min: red.min, argmin: red.argmin, logsumexp: losses.logsumexp,
  conv2d,
  maxPool2d: pool.maxPool2d, avgPool2d: pool.avgPool2d, globalAvgPool2d: pool.globalAvgPool2d,
});

/** Tensor methods (a.add(b), x.reshape(...)) and the table entry each one replays as. */
export const TRACED_METHODS: Readonly<Record<string, string>> = Object.freeze({
  add: 'add', sub: 'sub', mul: 'mul', div: 'div', maximum: 'maximum', minimum: 'minimum', pow: 'pow',
  neg: 'neg', relu: 'relu', exp: 'exp', log: 'log', tanh: 'tanh', sigmoid: 'sigmoid',
  square: 'square', sqrt: 'sqrt', abs: 'abs', clip: 'clip', matmul: 'matmul',
  sum: 'sum', mean: 'mean', max: 'max', argmax: 'argmax',
  reshape: 'reshape', transpose: 'transpose', slice: 'slice', gather: 'gather', cast: 'cast',
  softmax: 'softmax', logSoftmax: 'logSoftmax', detach: 'detach',
  softplus: 'softplus', logSigmoid: 'logSigmoid', gt: 'gt', ge: 'ge', lt: 'lt', le: 'le', eq: 'eq', ne: 'ne',
  min: 'min', argmin: 'argmin', logsumexp: 'logsumexp',
  broadcastTo: 'broadcastTo', pad: 'pad', expandDims: 'expandDims', squeeze: 'squeeze', oneHot: 'oneHot', bincount: 'bincount', split: 'split', topk: 'topk',
});
