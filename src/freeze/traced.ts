// Evaluated first, so the methods it installs exist when they are wrapped below.
import '../ops/methods.js';
import { Tensor } from '../tensor/tensor.js';
import { detach as detachOp, stopGradient as stopGradientOp } from '../autograd/custom.js';
import * as discrete from '../ops/discrete.js';
import * as div_ from '../ops/divergence.js';
import * as ew from '../ops/elementwise.js';
import * as losses from '../ops/losses.js';
import { matmul as matmulOp } from '../ops/matmul.js';
import { conv2d as conv2dOp } from '../ops/conv.js';
import * as red from '../ops/reduce.js';
import * as shp from '../ops/shape.js';
import * as idx from '../ops/indexing.js';
import * as pool from '../ops/pool.js';
import { TRACED_METHODS } from './ops.js';
import { traced } from './trace.js';

// The public entry points of the ops freeze() can trace: the same functions,
// wrapped so that a forward running under freeze/summary records its calls
// (see trace.ts). Outside a trace a wrapper is one null check.

export const add = traced('add', ew.add);
export const sub = traced('sub', ew.sub);
export const mul = traced('mul', ew.mul);
export const div = traced('div', ew.div);
export const maximum = traced('maximum', ew.maximum);
export const minimum = traced('minimum', ew.minimum);
export const pow = traced('pow', ew.pow);
export const neg = traced('neg', ew.neg);
export const relu = traced('relu', ew.relu);
export const exp = traced('exp', ew.exp);
export const log = traced('log', ew.log);
export const tanh = traced('tanh', ew.tanh);
export const sigmoid = traced('sigmoid', ew.sigmoid);
export const square = traced('square', ew.square);
export const sqrt = traced('sqrt', ew.sqrt);
export const abs = traced('abs', ew.abs);
export const clip = traced('clip', ew.clip);
export const matmul = traced('matmul', matmulOp);
export const sum = traced('sum', red.sum);
export const mean = traced('mean', red.mean);
export const max = traced('max', red.max);
export const argmax = traced('argmax', red.argmax);
export const reshape = traced('reshape', shp.reshape);
export const transpose = traced('transpose', shp.transpose);
export const slice = traced('slice', shp.slice);
export const concat = traced('concat', shp.concat);
export const gather = traced('gather', shp.gather);
export const cast = traced('cast', shp.cast);
export const softmax = traced('softmax', losses.softmax);
export const logSoftmax = traced('logSoftmax', losses.logSoftmax);
export const sign = traced('sign', discrete.sign);
export const round = traced('round', discrete.round);
export const floor = traced('floor', discrete.floor);
export const stopGradient = traced('stopGradient', stopGradientOp);
export const detach = traced('detach', detachOp);
export const softplus = traced('softplus', ew.softplus);
export const logSigmoid = traced('logSigmoid', ew.logSigmoid);
export const gt = traced('gt', ew.gt);
export const ge = traced('ge', ew.ge);
export const lt = traced('lt', ew.lt);
export const le = traced('le', ew.le);
export const eq = traced('eq', ew.eq);
export const ne = traced('ne', ew.ne);
export const where = traced('where', ew.where);
export const bceWithLogits = traced('bceWithLogits', div_.bceWithLogits);
export const klCategorical = traced('klCategorical', div_.klCategorical);
export const min = traced('min', red.min);
export const argmin = traced('argmin', red.argmin);
export const logsumexp = traced('logsumexp', losses.logsumexp);
export const broadcastTo = traced('broadcastTo', shp.broadcastTo);
export const pad = traced('pad', shp.pad);
export const expandDims = traced('expandDims', shp.expandDims);
export const squeeze = traced('squeeze', shp.squeeze);
export const stack = traced('stack', shp.stack);
export const oneHot = traced('oneHot', idx.oneHot);
export const bincount = traced('bincount', idx.bincount);
export const maxPool2d = traced('maxPool2d', pool.maxPool2d);
export const avgPool2d = traced('avgPool2d', pool.avgPool2d);
export const globalAvgPool2d = traced('globalAvgPool2d', pool.globalAvgPool2d);
// Several outputs: traced so that freeze() stops with a clear error instead of missing them.
export const split = traced('split', shp.split);
export const topk = traced('topk', idx.topk);
export const conv2d = traced('conv2d', conv2dOp);

// Tensor methods: wrap the installed ones (ops/methods.ts) in place.
const proto = Tensor.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
for (const [method, name] of Object.entries(TRACED_METHODS)) {
  const original = proto[method];
  const call = traced(name, (self: unknown, ...args: unknown[]) => original.apply(self, args));
  proto[method] = function (this: unknown, ...args: unknown[]) {
    return call(this, ...args);
  };
}
