import { record } from '../autograd/tape.js';
import type { BinaryName, CompareName, UnaryName } from '../kernels/codes.generated.js';
import { f32Affine, f32Binary, f32Clip, f32Compare, f32Unary, f32UnaryBackward, f32Where } from '../kernels/elementwise.js';
import { f32RangeMaskBackward } from '../kernels/hard.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { full } from '../tensor/creation.js';
import { empty, rawF32, Tensor, viewOf } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides, contiguousStrides } from './broadcast.js';
import { sumToShape } from './reduce.js';

export type TensorLike = Tensor | number;

// ---- unary --------------------------------------------------------------

function unary(name: UnaryName, x: Tensor): Tensor {
  checkFloat(x, name, 'x');
  const y = f32Unary(name, x);
  return record(y, name, [x], (dy) => [f32UnaryBackward(name, x, y, dy)]);
}

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
/** Natural logarithm; log(0) = -Infinity, log of a negative number = NaN. */
export const log = (x: Tensor): Tensor => unary('log', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const square = (x: Tensor): Tensor => unary('square', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
/** |x|; its gradient at 0 is 0. */
export const abs = (x: Tensor): Tensor => unary('abs', x);

/** log(1 + e^x), computed as max(x, 0) + log1p(e^(−|x|)) (no overflow for any x); gradient σ(x). */
export const softplus = (x: Tensor): Tensor => unary('softplus', x);
/** log σ(x) = −softplus(−x), computed as min(x, 0) − log1p(e^(−|x|)); gradient σ(−x). */
export const logSigmoid = (x: Tensor): Tensor => unary('logSigmoid', x);

/** Clamps to [min, max]; the gradient passes where min <= x <= max and is 0 outside. */
export function clip(x: Tensor, min: number, max: number): Tensor {
  checkFloat(x, 'clip', 'x');
  checkNumber(min, 'clip', 'min');
  checkNumber(max, 'clip', 'max');
  if (!(min <= max)) throw new Error(`clip: min (${min}) must be <= max (${max})`);
  const y = f32Clip(x, min, max);
  return record(y, 'clip', [x], (dy) => [f32RangeMaskBackward(x, dy, min, max)]);
}

/** a * x + b elementwise with scalar a, b (exact for a = 1 or b = 0). */
export function affine(x: Tensor, a: number, b: number, op = 'affine'): Tensor {
  checkFloat(x, op, 'x');
  const y = f32Affine(x, a, b);
  return record(y, op, [x], (dy) => [f32Affine(dy, a, 0)]);
}

// ---- binary with broadcasting ------------------------------------------

function asTensor(v: TensorLike, op: string, arg: string): Tensor {
  if (typeof v === 'number') return full([], v);
  if (!(v instanceof Tensor)) throw new Error(`${op}: ${arg} must be a Tensor or a number, got ${describe(v)}`);
  return checkFloat(v, op, arg);
}

/** Checks an operand without allocating: a number or a live float32 tensor. */
function checkOperand(v: TensorLike, op: string, arg: string): void {
  if (typeof v !== 'number') asTensor(v, op, arg);
}

/** Raw broadcast kernel call (no tape). */
export function binaryRaw(name: BinaryName, a: Tensor, b: Tensor, op: string = name): Tensor {
  const shape = broadcastShapes(a.shape, b.shape, op);
  return f32Binary(name, a, broadcastStrides(a.shape, shape), b, broadcastStrides(b.shape, shape), shape);
}

function binary(name: BinaryName, a: TensorLike, b: TensorLike): Tensor {
  checkOperand(a, name, 'a');
  checkOperand(b, name, 'b');
  // Scalar operands of add/sub/mul take the exact affine path, with no temporary tensor.
  if (typeof b === 'number' && (name === 'add' || name === 'sub' || name === 'mul')) {
    checkNumber(b, name, 'b');
    if (name === 'mul') return affine(asTensor(a, name, 'a'), b, 0, name);
    return affine(asTensor(a, name, 'a'), 1, name === 'add' ? b : -b, name);
  }
  if (typeof a === 'number' && (name === 'add' || name === 'mul')) return binary(name, b, a);
  if (typeof a !== 'number' && typeof b !== 'number') broadcastShapes(a.shape, b.shape, name);
  const at = asTensor(a, name, 'a');
  const bt = asTensor(b, name, 'b');
  const y = binaryRaw(name, at, bt);
  // A number operand lives as a scalar tensor only while a kernel reads it: nothing
  // but the output stays alive, and backward makes the scalar again if it needs it.
  if (typeof a === 'number') at.dispose();
  if (typeof b === 'number') bt.dispose();
  return record(y, name, [at, bt], (dy) => {
    const av = typeof a === 'number' ? full([], a) : at;
    const bv = typeof b === 'number' ? full([], b) : bt;
    try {
      const da = at.requiresGrad ? reduceGrad(gradA(name, dy, av, bv), at.shape) : null;
      const db = bt.requiresGrad ? reduceGrad(gradB(name, dy, av, bv, y), bt.shape) : null;
      return [da, db];
    } finally {
      if (av !== at) av.dispose();
      if (bv !== bt) bv.dispose();
    }
  });
}

/** sumToShape of a broadcast gradient, freeing the full-shape gradient. */
function reduceGrad(g: Tensor, shape: readonly number[]): Tensor {
  const r = sumToShape(g, shape);
  g.dispose();
  return r;
}

// Gradients at the broadcast shape (sumToShape reduces them); run under noGrad.
function gradA(name: BinaryName, dy: Tensor, a: Tensor, b: Tensor): Tensor {
  switch (name) {
    case 'add':
    case 'sub':
      return viewOf(dy, dy.shape);
    case 'mul':
      return binaryRaw('mul', dy, b);
    case 'div':
      return binaryRaw('div', dy, b);
    case 'pow':
      return scaled(dy, binaryRaw('powDbase', a, b));
    default:
      return selectGrad(name, dy, a, b, true);
  }
}

function gradB(name: BinaryName, dy: Tensor, a: Tensor, b: Tensor, y: Tensor): Tensor {
  switch (name) {
    case 'add':
      return viewOf(dy, dy.shape);
    case 'sub':
      return affine(dy, -1, 0);
    case 'mul':
      return binaryRaw('mul', dy, a);
    case 'div': {
      // d(a/b)/db = -a / b^2 = -(a/b) / b
      const q = binaryRaw('div', a, b);
      const t = binaryRaw('div', q, b);
      q.dispose();
      const g = binaryRaw('mul', dy, t);
      t.dispose();
      return f32Affine(g, -1, 0, g);
    }
    case 'pow':
      return scaled(dy, binaryRaw('powDexp', y, a));
    default:
      return selectGrad(name, dy, a, b, false);
  }
}

/** dy * d, freeing d. */
function scaled(dy: Tensor, d: Tensor): Tensor {
  const g = binaryRaw('mul', dy, d);
  d.dispose();
  return g;
}

// maximum/minimum: the gradient goes to the operand that was selected (to a on ties).
function selectGrad(name: BinaryName, dy: Tensor, a: Tensor, b: Tensor, forA: boolean): Tensor {
  const picked = binaryRaw(name, a, b);
  const other = forA ? b : a;
  const self = forA ? a : b;
  const shape = dy.shape;
  const mask = empty(shape, 'float32');
  const s = binaryRaw('sub', picked, self);
  const o = binaryRaw('sub', picked, other);
  const sv = rawF32(s);
  const ov = rawF32(o);
  const mv = rawF32(mask);
  for (let i = 0; i < mv.length; i++) mv[i] = sv[i] === 0 && (forA || ov[i] !== 0) ? 1 : 0;
  picked.dispose();
  s.dispose();
  o.dispose();
  const g = binaryRaw('mul', dy, mask);
  mask.dispose();
  return g;
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary('mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary('div', a, b);
/** Elementwise maximum; on ties the gradient goes to a. */
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary('maximum', a, b);
/** Elementwise minimum; on ties the gradient goes to a. */
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary('minimum', a, b);
/**
 * a^b elementwise (AssemblyScript's float32 pow, the same bits in every runtime;
 * a negative base with a non-integer exponent gives NaN). Gradients as PyTorch's:
 * b·a^(b−1) (0 where b = 0) and a^b·ln a (0 where a = 0 and a^b is finite).
 */
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary('pow', a, b);

// ---- comparisons and where ----------------------------------------------

function compare(name: CompareName, a: TensorLike, b: TensorLike): Tensor {
  // Any number compares, NaN and ±Infinity included (NaN: false, except under ne).
  if (typeof a !== 'number') asTensor(a, name, 'a');
  if (typeof b !== 'number') asTensor(b, name, 'b');
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${name}: a and b are both numbers; pass at least one Tensor`);
  const shape = broadcastShapes(typeof a === 'number' ? [] : a.shape, typeof b === 'number' ? [] : b.shape, name);
  const at = typeof a === 'number' ? full([], a) : a;
  const bt = typeof b === 'number' ? full([], b) : b;
  try {
    return f32Compare(name, at, broadcastStrides(at.shape, shape), bt, broadcastStrides(bt.shape, shape), shape);
  } finally {
    if (at !== a) at.dispose();
    if (bt !== b) bt.dispose();
  }
}

/** a > b elementwise with broadcasting: a uint8 mask of 0/1 (NaN compares false). No gradient. */
export const gt = (a: TensorLike, b: TensorLike): Tensor => compare('gt', a, b);
/** a >= b as a uint8 0/1 mask (see gt). */
export const ge = (a: TensorLike, b: TensorLike): Tensor => compare('ge', a, b);
/** a < b as a uint8 0/1 mask (see gt). */
export const lt = (a: TensorLike, b: TensorLike): Tensor => compare('lt', a, b);
/** a <= b as a uint8 0/1 mask (see gt). */
export const le = (a: TensorLike, b: TensorLike): Tensor => compare('le', a, b);
/** a == b as a uint8 0/1 mask (see gt; +0 equals −0). */
export const eq = (a: TensorLike, b: TensorLike): Tensor => compare('eq', a, b);
/** a != b as a uint8 0/1 mask; NaN is unequal to everything, itself included. */
export const ne = (a: TensorLike, b: TensorLike): Tensor => compare('ne', a, b);

/**
 * cond ? a : b elementwise, broadcasting cond, a and b together. cond is a uint8
 * mask (nonzero picks a, as gt/eq/... return) or a float32 tensor (nonzero picks
 * a; NaN is nonzero). The gradient flows to a where cond holds and to b elsewhere;
 * cond gets none.
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (!(cond instanceof Tensor)) throw new Error(`where: cond must be a uint8 or float32 Tensor, got ${describe(cond)}`);
  if (cond.disposed) throw new Error('where: cond is a disposed tensor');
  if (cond.dtype !== 'uint8' && cond.dtype !== 'float32') {
    throw new Error(`where: cond must be a uint8 mask or a float32 tensor, got ${cond.dtype} (convert it with cast(cond, 'float32') or compare it, e.g. ne(cond, 0))`);
  }
  checkOperand(a, 'where', 'a');
  checkOperand(b, 'where', 'b');
  const shape = broadcastShapes(broadcastShapes(cond.shape, typeof a === 'number' ? [] : a.shape, 'where'),
    typeof b === 'number' ? [] : b.shape, 'where');
  // The tape keeps its own mask (a view of a uint8 cond): the caller may dispose cond before backward.
  const mask = cond.dtype === 'uint8' ? viewOf(cond, cond.shape) : compare('ne', cond, 0);
  const at = asTensor(a, 'where', 'a');
  const bt = asTensor(b, 'where', 'b');
  const ms = broadcastStrides(mask.shape, shape);
  let y: Tensor;
  try {
    y = f32Where(mask, ms, at, broadcastStrides(at.shape, shape), bt, broadcastStrides(bt.shape, shape), shape);
  } catch (e) {
    mask.dispose();
    throw e;
  } finally {
    if (typeof a === 'number') at.dispose();
    if (typeof b === 'number') bt.dispose();
  }
  return record(y, 'where', [at, bt], (dy) => {
    const zero = full([], 0);
    const flat = contiguousStrides(shape);
    try {
      const da = at.requiresGrad ? reduceGrad(f32Where(mask, ms, dy, flat, zero, [...shape].fill(0), shape), at.shape) : null;
      const db = bt.requiresGrad ? reduceGrad(f32Where(mask, ms, zero, [...shape].fill(0), dy, flat, shape), bt.shape) : null;
      return [da, db];
    } finally {
      zero.dispose();
    }
  }, { saved: [mask] });
}
