import { rt } from '../runtime/context.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Where a fill takes its draws: the sequence of 32-bit draws fixed by
 * (seed, stream), from draw `offset` on. Nothing else goes in, so any piece of
 * a fill can be computed anywhere (another thread, another process) given its
 * offset. Reaching an offset is cheap at any size: up to 2^11 generator
 * steps, then a jump of O(log offset) work (a few microseconds at 2^53).
 * Offsets and returned ends are exact integers below 2^53.
 */
export interface RngCounter {
  seed: number;
  stream: number;
  offset: number;
}

function checkFill(out: Tensor, dtype: 'float32' | 'int32', at: RngCounter, op: string): void {
  if (out.disposed || out.dtype !== dtype) throw new Error(`${op}: out must be a live ${dtype} tensor, got ${out.disposed ? 'a disposed tensor' : out.dtype}`);
  for (const [name, v, max] of [['seed', at.seed, 2 ** 32 - 1], ['stream', at.stream, 2 ** 32 - 1], ['offset', at.offset, Number.MAX_SAFE_INTEGER]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new Error(`${op}: ${name} must be an integer in [0, ${max}], got ${v}`);
  }
}

/**
 * Uniform float32 in [lo, hi) into `out` (lo < hi, both float32-finite):
 * element i from draw offset + i. Returns offset + out.size, where the next
 * piece of the same fill starts.
 */
export function rngUniformF32(out: Tensor, at: RngCounter, lo: number, hi: number): number {
  checkFill(out, 'float32', at, 'rngUniformF32');
  return rt().kernels.rng_uniform_f32(out.offset, out.size, at.seed, at.stream, at.offset, lo, hi);
}

/**
 * Normal float32 (Box-Muller) into `out`: the stream's normals come in pairs,
 * values 2k and 2k + 1 from draws 2k and 2k + 1, and `out` receives values
 * offset .. offset + size - 1 (so a fill splits at any element: the next piece
 * starts at offset + out.size). Returns the first draw after the last pair
 * used: offset + size rounded up to even.
 */
export function rngNormalF32(out: Tensor, at: RngCounter, mean: number, std: number): number {
  checkFill(out, 'float32', at, 'rngNormalF32');
  return rt().kernels.rng_normal_f32(out.offset, out.size, at.seed, at.stream, at.offset, mean, std);
}

/**
 * Uniform int32 in [lo, hi) by rejection into `out`, from draw `offset` on.
 * A value takes one draw plus one per rejected draw, so the number of draws is
 * known only afterwards: returns offset + the draws used, the offset of the
 * next piece of the same fill (pieces of an integer fill are sequential).
 */
export function rngIntI32(out: Tensor, at: RngCounter, lo: number, hi: number): number {
  checkFill(out, 'int32', at, 'rngIntI32');
  return rt().kernels.rng_int_i32(out.offset, out.size, at.seed, at.stream, at.offset, lo, hi);
}

/** Gumbel(0, 1) float32 noise into `out`: element i from draw offset + i. Returns offset + out.size. */
export function rngGumbelF32(out: Tensor, at: RngCounter): number {
  checkFill(out, 'float32', at, 'rngGumbelF32');
  return rt().kernels.rng_gumbel_f32(out.offset, out.size, at.seed, at.stream, at.offset);
}
