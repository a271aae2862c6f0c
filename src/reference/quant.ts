/**
 * Scalar twin of assembly/quant.ts: rounding, quantization and the STE
 * backward masks. float32 arithmetic with Math.fround after every operation.
 * Op codes are those of src/kernels/codes.ts (Hard).
 */
import { Hard } from '../kernels/codes.js';

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

export function hardRef(op: number, x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) y[i] = hardScalarRef(op, x[i]);
}

/** -1 where x < -t, +1 where x > t, 0 where -t <= x <= t (and for NaN). */
export function ternarizeRef(x: Float32Array, y: Float32Array, t: number): void {
  const ft = f(t);
  for (let i = 0; i < x.length; i++) y[i] = x[i] > ft ? 1 : x[i] < -ft ? -1 : 0;
}

/** The quantization level of x before clamping: roundHalfEven(x / scale) + zeroPoint (float32). */
export function quantLevel(x: number, scale: number, zeroPoint: number): number {
  return f(roundHalfEven(f(x / f(scale))) + f(zeroPoint));
}

/**
 * Fake quantization: q = clamp(roundHalfEven(x / scale) + zeroPoint, qmin, qmax),
 * y = (q - zeroPoint) * scale. Defined for non-NaN x (the host rejects NaN).
 */
export function fakeQuantRef(x: Float32Array, y: Float32Array, scale: number, zeroPoint: number, qmin: number, qmax: number): void {
  const lo = f(qmin);
  const hi = f(qmax);
  for (let i = 0; i < x.length; i++) {
    let q = quantLevel(x[i], scale, zeroPoint);
    q = q < lo ? lo : q > hi ? hi : q;
    y[i] = f(f(q - f(zeroPoint)) * f(scale));
  }
}

/** dx = dy where qmin <= roundHalfEven(x / scale) + zeroPoint <= qmax (not clamped), else +0. */
export function fakeQuantBackwardRef(x: Float32Array, dy: Float32Array, dx: Float32Array,
                                     scale: number, zeroPoint: number, qmin: number, qmax: number): void {
  const lo = f(qmin);
  const hi = f(qmax);
  for (let i = 0; i < x.length; i++) {
    const q = quantLevel(x[i], scale, zeroPoint);
    dx[i] = q >= lo && q <= hi ? dy[i] : 0;
  }
}

/** Clipped identity: dx = dy where lo <= x <= hi (bounds included), else +0; NaN x gives 0. */
export function rangeMaskBackwardRef(x: Float32Array, dy: Float32Array, dx: Float32Array, lo: number, hi: number): void {
  const flo = f(lo);
  const fhi = f(hi);
  for (let i = 0; i < x.length; i++) dx[i] = x[i] >= flo && x[i] <= fhi ? dy[i] : 0;
}

/** Bi-Real ApproxSign: dx = (2 - 2|x|) * dy where |x| <= 1, else +0. */
export function approxSignBackwardRef(x: Float32Array, dy: Float32Array, dx: Float32Array): void {
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
export function swishSignBackwardRef(x: Float32Array, dy: Float32Array, dx: Float32Array, beta: number): void {
  const b = f(beta);
  for (let i = 0; i < x.length; i++) {
    const bx = f(b * x[i]);
    const num = f(b * f(2 - f(bx * f(Math.tanh(f(bx * 0.5))))));
    const g = f(num / f(1 + f(Math.cosh(bx))));
    dx[i] = f(g * dy[i]);
  }
}
