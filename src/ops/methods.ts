import { backward } from '../autograd/tape.js';
import { detach } from '../autograd/custom.js';
import type { DType } from '../tensor/dtypes.js';
import { Tensor } from '../tensor/tensor.js';
import * as ew from './elementwise.js';
import type { TensorLike } from './elementwise.js';
import * as losses from './losses.js';
import { matmul, type MatmulOptions } from './matmul.js';
import * as red from './reduce.js';
import * as shp from './shape.js';
import * as idx from './indexing.js';

// Chainable forms of the ops: a.matmul(b).relu().sum().
declare module '../tensor/tensor.js' {
  interface Tensor {
    add(b: TensorLike): Tensor;
    sub(b: TensorLike): Tensor;
    mul(b: TensorLike): Tensor;
    div(b: TensorLike): Tensor;
    maximum(b: TensorLike): Tensor;
    minimum(b: TensorLike): Tensor;
    pow(exponent: TensorLike): Tensor;
    neg(): Tensor;
    relu(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    square(): Tensor;
    sqrt(): Tensor;
    abs(): Tensor;
    clip(min: number, max: number): Tensor;
    matmul(b: Tensor, options?: MatmulOptions | null): Tensor;
    sum(options?: red.ReduceOptions | null): Tensor;
    mean(options?: red.ReduceOptions | null): Tensor;
    max(options?: { axis?: number; keepDims?: boolean } | null): Tensor;
    argmax(options?: { axis?: number; keepDims?: boolean } | null): Tensor;
    reshape(shape: number[]): Tensor;
    transpose(perm?: number[]): Tensor;
    slice(begin: number[], size?: number[] | null): Tensor;
    gather(indices: Tensor, options?: { axis?: number | null } | null): Tensor;
    cast(dtype: DType): Tensor;
    softmax(axis?: number | null): Tensor;
    logSoftmax(axis?: number | null): Tensor;
    broadcastTo(shape: number[]): Tensor;
    pad(paddings: [number, number][], options?: { value?: number | null } | null): Tensor;
    expandDims(axis?: number | null): Tensor;
    squeeze(axis?: number | number[] | null): Tensor;
    split(sizes: number | number[], axis?: number | null): Tensor[];
    topk(k: number, options?: idx.TopkOptions | null): { values: Tensor; indices: Tensor };
    oneHot(depth: number): Tensor;
    bincount(options?: idx.BincountOptions | null): Tensor;
    /** Backpropagates from this tensor (one element, or pass grad of the same shape). */
    backward(grad?: Tensor | null): void;
    /** A tensor with the same value, cut from the tape. */
    detach(): Tensor;
  }
}

const p = Tensor.prototype;
p.add = function (b) { return ew.add(this, b); };
p.sub = function (b) { return ew.sub(this, b); };
p.mul = function (b) { return ew.mul(this, b); };
p.div = function (b) { return ew.div(this, b); };
p.maximum = function (b) { return ew.maximum(this, b); };
p.minimum = function (b) { return ew.minimum(this, b); };
p.pow = function (exponent) { return ew.pow(this, exponent); };
p.neg = function () { return ew.neg(this); };
p.relu = function () { return ew.relu(this); };
p.exp = function () { return ew.exp(this); };
p.log = function () { return ew.log(this); };
p.tanh = function () { return ew.tanh(this); };
p.sigmoid = function () { return ew.sigmoid(this); };
p.square = function () { return ew.square(this); };
p.sqrt = function () { return ew.sqrt(this); };
p.abs = function () { return ew.abs(this); };
p.clip = function (min, max) { return ew.clip(this, min, max); };
p.matmul = function (b, options) { return matmul(this, b, options); };
p.sum = function (options) { return red.sum(this, options); };
p.mean = function (options) { return red.mean(this, options); };
p.max = function (options) { return red.max(this, options); };
p.argmax = function (options) { return red.argmax(this, options); };
p.reshape = function (shape) { return shp.reshape(this, shape); };
p.transpose = function (perm) { return shp.transpose(this, perm); };
p.slice = function (begin, size) { return shp.slice(this, begin, size); };
p.gather = function (indices, options) { return shp.gather(this, indices, options); };
p.cast = function (dtype) { return shp.cast(this, dtype); };
p.softmax = function (axis) { return losses.softmax(this, axis); };
p.logSoftmax = function (axis) { return losses.logSoftmax(this, axis); };
p.backward = function (grad) { backward(this, grad); };
p.detach = function () { return detach(this); };
p.broadcastTo = function (shape) { return shp.broadcastTo(this, shape); };
p.pad = function (paddings, options) { return shp.pad(this, paddings, options); };
p.expandDims = function (axis) { return shp.expandDims(this, axis); };
p.squeeze = function (axis) { return shp.squeeze(this, axis); };
p.split = function (sizes, axis) { return shp.split(this, sizes, axis); };
p.topk = function (k, options) { return idx.topk(this, k, options); };
p.oneHot = function (depth) { return idx.oneHot(this, depth); };
p.bincount = function (options) { return idx.bincount(this, options); };
