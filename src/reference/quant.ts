/**
 * Scalar twin of assembly/quant.ts: ternarization and fake quantization with
 * its STE backward. float32 arithmetic with Math.fround after every operation.
 */
import { roundHalfEven } from './hard.js';

const f = Math.fround;

/** -1 where x < -t, +1 where x > t, 0 where -t <= x <= t (and for NaN). */
export function f32TernarizeRef(x: Float32Array, y: Float32Array, t: number): void {
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
export function f32FakeQuantRef(x: Float32Array, y: Float32Array, scale: number, zeroPoint: number, qmin: number, qmax: number): void {
  const lo = f(qmin);
  const hi = f(qmax);
  for (let i = 0; i < x.length; i++) {
    let q = quantLevel(x[i], scale, zeroPoint);
    q = q < lo ? lo : q > hi ? hi : q;
    y[i] = f(f(q - f(zeroPoint)) * f(scale));
  }
}

/** dx = dy where qmin <= roundHalfEven(x / scale) + zeroPoint <= qmax (not clamped), else +0. */
export function f32FakeQuantBackwardRef(x: Float32Array, dy: Float32Array, dx: Float32Array,
                                     scale: number, zeroPoint: number, qmin: number, qmax: number): void {
  const lo = f(qmin);
  const hi = f(qmax);
  for (let i = 0; i < x.length; i++) {
    const q = quantLevel(x[i], scale, zeroPoint);
    dx[i] = q >= lo && q <= hi ? dy[i] : 0;
  }
}
