import { rt } from '../runtime/context.js';
import { elementAt as at, elementPass as pass, parallelTiles, TILE_LENGTH as LENGTH } from '../runtime/parallel.js';
import { writeArgs } from '../runtime/views.js';
import type { DType } from '../tensor/dtypes.js';
import { empty, rawView, type Tensor } from '../tensor/tensor.js';
import { Binary, Compare, Unary, type BinaryName, type CompareName, type UnaryName } from './codes.generated.js';
import { expectF32, expectSameSize } from './internal/checks.js';
import { collapseAxes } from './internal/strided.js';

// Elementwise kernels (assembly/elementwise.ts, twin: reference/elementwise.ts).
// Bindings that take `out` write into it (it may be x itself: in place) and
// return it; without `out` they return a fresh tensor.

/** exp, log, tanh, sigmoid cost tens of operations per element; the rest a few. */
const unaryCost = (name: UnaryName): number => (name === 'neg' || name === 'relu' || name === 'square' || name === 'abs' ? 4 : 32);

function output(x: Tensor, out: Tensor | undefined, binding: string): Tensor {
  expectF32(x, binding, 'x');
  if (out === undefined) return empty(x.shape, 'float32');
  expectF32(out, binding, 'out');
  expectSameSize(x, out, binding, 'x and out');
  return out;
}

/** y = f(x) for one of the unary maps (neg, relu, exp, ...). */
export function f32Unary(name: UnaryName, x: Tensor): Tensor {
  const y = output(x, undefined, 'f32Unary');
  parallelTiles({ kernel: 'f32_unary', ...pass(x.size, unaryCost(name)), args: [Unary[name], at(x.offset), at(y.offset), LENGTH] });
  return y;
}

/** dx = dy · f'(x) for y = f(x), from whichever of x and y the rule needs. */
export function f32UnaryBackward(name: UnaryName, x: Tensor, y: Tensor, dy: Tensor): Tensor {
  expectSameSize(x, y, 'f32UnaryBackward', 'x and y');
  expectSameSize(x, dy, 'f32UnaryBackward', 'x and dy');
  const dx = output(x, undefined, 'f32UnaryBackward');
  parallelTiles({ kernel: 'f32_unary_backward', ...pass(x.size, unaryCost(name)), args: [Unary[name], at(x.offset), at(y.offset), at(dy.offset), at(dx.offset), LENGTH] });
  return dx;
}

/** out = a·x + b (exact for a = 1 or b = 0; a = 1, b = 0 copies). */
export function f32Affine(x: Tensor, a: number, b: number, out?: Tensor): Tensor {
  const y = output(x, out, 'f32Affine');
  parallelTiles({ kernel: 'f32_affine', ...pass(x.size, 4), args: [at(x.offset), at(y.offset), LENGTH, a, b] });
  return y;
}

/** out = min(max(x, lo), hi); NaN stays NaN. */
export function f32Clip(x: Tensor, lo: number, hi: number, out?: Tensor): Tensor {
  const y = output(x, out, 'f32Clip');
  parallelTiles({ kernel: 'f32_clip', ...pass(x.size, 4), args: [at(x.offset), at(y.offset), LENGTH, lo, hi] });
  return y;
}

/** y += a·x, in place on y. */
export function f32Axpy(y: Tensor, x: Tensor, a: number): void {
  output(x, y, 'f32Axpy');
  parallelTiles({ kernel: 'f32_axpy', ...pass(y.size, 4), args: [at(y.offset), at(x.offset), LENGTH, a] });
}

/**
 * out = a ∘ b over out's shape, a and b read through element strides (0 on
 * broadcast axes) computed by the caller over that shape.
 */
export function f32Binary(name: BinaryName, a: Tensor, aStrides: readonly number[], b: Tensor, bStrides: readonly number[],
                          shape: readonly number[]): Tensor {
  expectF32(a, 'f32Binary', 'a');
  expectF32(b, 'f32Binary', 'b');
  const out = empty(shape, 'float32');
  if (out.size === 0) return out;
  const reach = (strides: readonly number[]) => shape.reduce((last, d, i) => last + (d - 1) * strides[i], 0);
  if (aStrides.length !== shape.length || bStrides.length !== shape.length || reach(aStrides) >= a.size || reach(bStrides) >= b.size) {
    out.dispose();
    throw new Error(`internal: f32Binary: strides do not fit a [${a.shape}] and b [${b.shape}] over [${shape}]`);
  }
  const c = collapseAxes(shape, [aStrides as number[], bStrides as number[]]);
  const [dims, sa, sb] = writeArgs(c.dims, c.strides[0], c.strides[1]);
  rt().kernels.f32_binary(Binary[name], a.offset, b.offset, out.offset, c.dims.length, dims, sa, sb);
  return out;
}

/** Throws (internal) unless every strided operand stays inside its tensor over `shape`. */
function checkReach(binding: string, shape: readonly number[], operands: readonly [Tensor, readonly number[]][]): void {
  const reach = (strides: readonly number[]) => shape.reduce((last, d, i) => last + (d - 1) * strides[i], 0);
  if (operands.some(([t, s]) => s.length !== shape.length || reach(s) >= t.size)) {
    throw new Error(`internal: ${binding}: strides do not fit ${operands.map(([t]) => `[${t.shape}]`).join(', ')} over [${shape}]`);
  }
}

/**
 * uint8 mask (0/1) of a ∘ b over `shape` for one of gt ge lt le eq ne, a and b
 * float32 read through element strides (0 on broadcast axes).
 */
export function f32Compare(name: CompareName, a: Tensor, aStrides: readonly number[], b: Tensor, bStrides: readonly number[],
                           shape: readonly number[]): Tensor {
  expectF32(a, 'f32Compare', 'a');
  expectF32(b, 'f32Compare', 'b');
  const size = shape.reduce((p, d) => p * d, 1);
  if (size > 0) checkReach('f32Compare', shape, [[a, aStrides], [b, bStrides]]);
  const out = empty(shape, 'uint8');
  if (size === 0) return out;
  const c = collapseAxes(shape, [aStrides as number[], bStrides as number[]]);
  const [dims, sa, sb] = writeArgs(c.dims, c.strides[0], c.strides[1]);
  rt().kernels.f32_compare(Compare[name], a.offset, b.offset, out.offset, c.dims.length, dims, sa, sb);
  return out;
}

/** float32 cond ? a : b over `shape`, cond uint8 (nonzero picks a), every operand read through element strides. */
export function f32Where(cond: Tensor, cStrides: readonly number[], a: Tensor, aStrides: readonly number[], b: Tensor,
                         bStrides: readonly number[], shape: readonly number[]): Tensor {
  if (cond.dtype !== 'uint8') throw new Error(`internal: f32Where: cond must be uint8, got ${cond.dtype}`);
  expectF32(a, 'f32Where', 'a');
  expectF32(b, 'f32Where', 'b');
  const size = shape.reduce((p, d) => p * d, 1);
  if (size > 0) checkReach('f32Where', shape, [[cond, cStrides], [a, aStrides], [b, bStrides]]);
  const out = empty(shape, 'float32');
  if (size === 0) return out;
  const c = collapseAxes(shape, [cStrides as number[], aStrides as number[], bStrides as number[]]);
  const [dims, sc, sa, sb] = writeArgs(c.dims, c.strides[0], c.strides[1], c.strides[2]);
  rt().kernels.f32_where(cond.offset, a.offset, b.offset, out.offset, c.dims.length, dims, sc, sa, sb);
  return out;
}

/** Sets every element of t to value (in place; float32 and int32 by kernel, int8/uint8 on the host). */
export function fill(t: Tensor, value: number): void {
  if (t.size === 0) return;
  const { kernels } = rt();
  if (t.dtype === 'float32') kernels.f32_fill(t.offset, t.size, value);
  else if (t.dtype === 'int32') kernels.i32_fill(t.offset, t.size, value);
  else rawView(t).fill(value);
}

/** The number of NaNs in float32 x. */
export function f32CountNaN(x: Tensor): number {
  expectF32(x, 'f32CountNaN', 'x');
  return rt().kernels.f32_count_nan(x.offset, x.size);
}

/**
 * x converted to `dtype`: any dtype to float32 and uint8/int8 to int32 exactly,
 * float32 to int32 by truncation toward zero, saturating (NaN must be rejected
 * first). Returns null for a conversion no kernel offers.
 */
export function convert(x: Tensor, dtype: DType): Tensor | null {
  const { kernels } = rt();
  const pick = dtype === 'float32'
    ? (x.dtype === 'uint8' ? kernels.u8_to_f32 : x.dtype === 'int8' ? kernels.i8_to_f32 : x.dtype === 'int32' ? kernels.i32_to_f32 : null)
    : dtype === 'int32'
      ? (x.dtype === 'uint8' ? kernels.u8_to_i32 : x.dtype === 'int8' ? kernels.i8_to_i32 : x.dtype === 'float32' ? kernels.f32_to_i32 : null)
      : null;
  if (pick === null) return null;
  const y = empty(x.shape, dtype);
  pick(x.offset, y.offset, x.size);
  return y;
}
