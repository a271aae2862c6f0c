/**
 * Scalar twin of assembly/hard.ts: sign, binarize, round (half to even) and
 * floor, and the straight-through backward rules (clipped identity,
 * ApproxSign, SwishSign). float32 arithmetic with Math.fround after every
 * operation. Op codes are those of assembly/codes.ts (Hard).
 */
import { Hard } from '../kernels/codes.generated.js';

const f = Math.fround;
const TWO_23 = 8388608;

/**
 * Round half to even (IEEE roundTiesToEven, wasm `nearest`): 0.5 -> 0,
 * 1.5 -> 2, 2.5 -> 2, -0.5 -> -0, -0.3 -> -0; values with |x| >= 2^23 are
 * already integers in float32 and pass through, as do NaN and infinities.
 */
export function roundHalfEven(x: number): number {
  if (!(Math.abs(x) < TWO_23)) return x;
  const r = Math.round(x);
  // Math.round breaks ties toward +infinity; step back when that lands on an odd integer.
  if (r - x === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/**
 * sign: -1, 0, +1 with sign(0) = sign(-0) = 0 and sign(NaN) = NaN (as torch.sign);
 * binarize: -1 below 0, else +1 (0, -0 and NaN give +1);
 * round: half to even; floor.
 */
export function hardScalarRef(op: number, x: number): number {
  switch (op) {
    case Hard.sign: return x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : x;
    case Hard.binarize: return x < 0 ? -1 : 1;
    case Hard.round: return roundHalfEven(x);
    default: return Math.floor(x);
  }
}

export function f32HardRef(op: number, x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) y[i] = hardScalarRef(op, x[i]);
}

/** Clipped identity: dx = dy where lo <= x <= hi (bounds included), else +0; NaN x gives 0. */
export function f32RangeMaskBackwardRef(x: Float32Array, dy: Float32Array, dx: Float32Array, lo: number, hi: number): void {
  const flo = f(lo);
  const fhi = f(hi);
  for (let i = 0; i < x.length; i++) dx[i] = x[i] >= flo && x[i] <= fhi ? dy[i] : 0;
}

/** Bi-Real ApproxSign: dx = (2 - 2|x|) * dy where |x| <= 1, else +0. */
export function f32ApproxSignBackwardRef(x: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    dx[i] = a <= 1 ? f(f(2 - f(2 * a)) * dy[i]) : 0;
  }
}

/**
 * SwishSign's smooth forward in float64: 2 sigmoid(b x) (1 + b x (1 - sigmoid(b x))) - 1,
 * the function whose derivative the swish backward applies.
 */
export function swishSignForward64(x: number, beta: number): number {
  const bx = beta * x;
  const s = 1 / (1 + Math.exp(-bx));
  return 2 * s * (1 + bx * (1 - s)) - 1;
}

/**
 * SwishSign backward: dx = g * dy with
 * g = b (2 - b x tanh(b x / 2)) / (1 + cosh(b x)), float32 operations in the
 * kernel's order (tanh and cosh from the engine's Math).
 */
export function f32SwishSignBackwardRef(x: Float32Array, dy: Float32Array, dx: Float32Array, beta: number): void {
  const b = f(beta);
  for (let i = 0; i < x.length; i++) {
    const bx = f(b * x[i]);
    const num = f(b * f(2 - f(bx * f(Math.tanh(f(bx * 0.5))))));
    const g = f(num / f(1 + f(Math.cosh(bx))));
    dx[i] = f(g * dy[i]);
  }
}
