import { f32View } from '../../runtime/views.js';
import { checkFloat, describe, F32_MAX, F32_MIN_NORMAL } from '../../tensor/checks.js';
import { Tensor } from '../../tensor/tensor.js';
import { withWorkspace } from '../workspace.js';

// Argument helpers shared by the bindings that take per-tensor or per-channel
// parameters (quant_s8, gemm_s8, gemm_b1): validated host values, copied into
// one temporary wasm block for the call.

/** A per-tensor number, or per-channel values (array, Float32Array or float32 tensor). */
export type ChannelValues = number | readonly number[] | Float32Array | Tensor;

/**
 * Expands a per-tensor or per-channel parameter to `channels` float32 values.
 * Accepts a number, an array/Float32Array/float32 tensor of length 1 or
 * `channels`. NaN and ±Infinity are rejected; `positive` also rejects <= 0.
 */
export function channelValues(v: ChannelValues | undefined, channels: number, op: string, arg: string,
                              opts: { fallback?: number; positive?: boolean; integer?: [number, number] } = {}): Float32Array {
  let values: ArrayLike<number>;
  if (v === undefined) {
    if (opts.fallback === undefined) throw new Error(`${op}: ${arg} is required`);
    values = [opts.fallback];
  } else if (typeof v === 'number') {
    values = [v];
  } else if (v instanceof Tensor) {
    checkFloat(v, op, arg);
    values = v.dataSync();
  } else if (Array.isArray(v) || v instanceof Float32Array) {
    values = v;
  } else {
    throw new Error(`${op}: ${arg} must be a number, an array of numbers or a float32 tensor, got ${describe(v)}`);
  }
  if (values.length !== 1 && values.length !== channels) {
    throw new Error(`${op}: ${arg} must have 1 value (per tensor) or ${channels} (one per channel), got ${values.length}`);
  }
  // One value for every channel: check it once.
  if (values.length === 1 && channels !== 1) {
    const [one] = channelValues([values[0]], 1, op, arg, opts);
    return new Float32Array(channels).fill(one);
  }
  // Per-channel float32 values (the common case on hot paths): one native copy, then a typed-array check.
  if (values instanceof Float32Array && values.length === channels && !opts.integer) {
    const copy = values.slice();
    for (let i = 0; i < channels; i++) {
      const x = copy[i];
      if (x - x !== 0) throw new Error(`${op}: ${arg}[${i}] must be a finite number, got ${x}`);
      if (opts.positive && !(x >= F32_MIN_NORMAL)) throw new Error(`${op}: ${arg}[${i}] = ${x} must be a positive normal float32 value (>= ${F32_MIN_NORMAL})`);
    }
    return copy;
  }
  const out = new Float32Array(channels);
  for (let i = 0; i < channels; i++) {
    const x = values[values.length === 1 ? 0 : i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${op}: ${arg}[${i}] must be a finite number, got ${describe(x)}`);
    if (opts.positive && !(x > 0)) throw new Error(`${op}: ${arg}[${i}] must be > 0, got ${x}`);
    // The kernels compute in float32: the value must survive rounding to float32 (no Infinity; a scale no 0 or subnormal).
    if (!Number.isFinite(Math.fround(x))) throw new Error(`${op}: ${arg}[${i}] = ${x} is outside the float32 range (|${arg}| <= ${F32_MAX})`);
    if (opts.positive && x < F32_MIN_NORMAL) {
      throw new Error(`${op}: ${arg}[${i}] = ${x} must be a positive normal float32 value (>= ${F32_MIN_NORMAL}); smaller values round to 0 or lose precision in float32`);
    }
    if (opts.integer && (!Number.isInteger(x) || x < opts.integer[0] || x > opts.integer[1])) {
      throw new Error(`${op}: ${arg}[${i}] must be an integer in [${opts.integer[0]}, ${opts.integer[1]}], got ${x}`);
    }
    out[i] = x;
  }
  return out;
}

/** Copies small float32 arrays into one temporary wasm block; returns their offsets and the block. */
export function withFloatArgs<R>(arrays: Float32Array[], fn: (offsets: number[]) => R): R {
  const sizes = arrays.map((a) => Math.ceil(Math.max(a.length, 1) / 4) * 16);
  return withWorkspace(sizes.reduce((s, b) => s + b, 0), (block) => {
    const offsets: number[] = [];
    let at = block;
    for (let i = 0; i < arrays.length; i++) {
      f32View(at, arrays[i].length).set(arrays[i]);
      offsets.push(at);
      at += sizes[i];
    }
    return fn(offsets);
  });
}
