import { rt } from '../runtime/context.js';
import { f32View } from '../runtime/views.js';
import { checkDType, checkFloat, describe, F32_MAX, F32_MIN_NORMAL } from '../tensor/checks.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { empty, Tensor } from '../tensor/tensor.js';
import { rejectNaN } from './nan.js';
import { withWorkspace } from './workspace.js';

// int8 / uint8 quantization (kernels: assembly/quant_s8.ts, twin:
// reference/quant_s8.ts).
//
// Rounding is round half to even (0.5 -> 0, 1.5 -> 2, -2.5 -> -2).
// Ranges: symmetric int8 (no zeroPoint) is [-127, 127], so q and -q are both
// representable and max|x| maps to ±127; asymmetric int8 (a zeroPoint is
// given) is [-128, 127]; uint8 is [0, 255].

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

export interface QuantizeOptions {
  /** Scale: one number (per tensor) or one per channel (channel = index along the first axis). */
  scale: ChannelValues;
  /** Integer zero point(s), per tensor or per channel. Omitted with int8: symmetric, range [-127, 127]. */
  zeroPoint?: ChannelValues;
  /** Output dtype, 'int8' (default) or 'uint8' (range [0, 255], zeroPoint defaults to 0). */
  dtype?: 'int8' | 'uint8';
}

function channelsOf(x: Tensor, perChannel: boolean): { rows: number; cols: number } {
  if (!perChannel) return { rows: 1, cols: x.size };
  const rows = x.shape[0];
  return { rows, cols: rows === 0 ? 0 : x.size / rows };
}

/**
 * q = clamp(roundHalfEven(x / scale) + zeroPoint, qmin, qmax) with round half
 * to even; per tensor, or per channel along the first axis (the rows of a
 * [C, K] weight) when scale/zeroPoint have C values.
 */
export function quantizeInt8(x: Tensor, options: QuantizeOptions): Tensor {
  const op = 'quantizeInt8';
  checkFloat(x, op, 'x');
  if (options === null || typeof options !== 'object') throw new Error(`${op}: options must be an object with a scale, got ${describe(options)}`);
  options = readOptions<QuantizeOptions>(options, op) as QuantizeOptions;
  const dtype = options.dtype ?? 'int8';
  if (dtype !== 'int8' && dtype !== 'uint8') throw new Error(`${op}: dtype must be 'int8' or 'uint8', got ${describe(dtype)}`);
  const C = x.rank > 0 ? x.shape[0] : 1;
  const perChannel = isPerChannel(options.scale) || isPerChannel(options.zeroPoint);
  if (perChannel && x.rank === 0) throw new Error(`${op}: per-channel parameters need x with at least 1 dimension, got a scalar`);
  const channels = perChannel ? C : 1;
  const symmetric = dtype === 'int8' && options.zeroPoint === undefined;
  const [qmin, qmax] = dtype === 'uint8' ? [0, 255] : symmetric ? [-127, 127] : [-128, 127];
  const scales = channelValues(options.scale, channels, op, 'scale', { positive: true });
  const zps = channelValues(options.zeroPoint, channels, op, 'zeroPoint', { fallback: 0, integer: [qmin, qmax] });
  rejectNaN(x, op, 'x');
  const out = empty(x.shape, dtype);
  if (x.size === 0) return out;
  const { rows, cols } = channelsOf(x, perChannel);
  withFloatArgs([scales, zps], ([s, z]) => {
    rt().kernels.quant_s8_f32(x.offset, out.offset, rows, cols, s, z, perChannel ? 1 : 0, qmin, qmax, dtype === 'uint8' ? 1 : 0);
  });
  return out;
}

export interface DequantizeOptions {
  scale: ChannelValues;
  /** Integer zero point(s); default 0. */
  zeroPoint?: ChannelValues;
}

/** x = (q - zeroPoint) · scale in float32, per tensor or per channel (first axis). q is int8 or uint8. */
export function dequantizeInt8(q: Tensor, options: DequantizeOptions): Tensor {
  const op = 'dequantizeInt8';
  checkDType(q, op, 'q', 'int8', 'uint8');
  if (options === null || typeof options !== 'object') throw new Error(`${op}: options must be an object with a scale, got ${describe(options)}`);
  options = readOptions<DequantizeOptions>(options, op) as DequantizeOptions;
  const range: [number, number] = q.dtype === 'uint8' ? [0, 255] : [-128, 127];
  const perChannel = isPerChannel(options.scale) || isPerChannel(options.zeroPoint);
  if (perChannel && q.rank === 0) throw new Error(`${op}: per-channel parameters need q with at least 1 dimension, got a scalar`);
  const channels = perChannel ? q.shape[0] : 1;
  const scales = channelValues(options.scale, channels, op, 'scale', { positive: true });
  const zps = channelValues(options.zeroPoint, channels, op, 'zeroPoint', { fallback: 0, integer: range });
  for (let c = 0; c < channels; c++) {
    const reach = Math.max(zps[c] - range[0], range[1] - zps[c]);
    if (scales[c] * reach > F32_MAX) {
      throw new Error(`${op}: scale${channels > 1 ? `[${c}]` : ''} = ${scales[c]} is too large: (q - zeroPoint)·scale overflows float32 for q ${reach} steps from the zero point; use scale <= ${F32_MAX / reach}`);
    }
  }
  const out = empty(q.shape, 'float32');
  if (q.size === 0) return out;
  const { rows, cols } = channelsOf(q, perChannel);
  withFloatArgs([scales, zps], ([s, z]) => {
    rt().kernels.dequant_s8_f32(q.offset, out.offset, rows, cols, s, z, perChannel ? 1 : 0, q.dtype === 'uint8' ? 1 : 0);
  });
  return out;
}

export interface ScalesOptions {
  /** One scale per channel (first axis) instead of one for the whole tensor. */
  perChannel?: boolean;
}

/**
 * Symmetric int8 scales: max|x| / 127 per tensor (shape []) or per channel
 * along the first axis (shape [C]); a channel of zeros gets scale 1.
 */
export function int8Scales(x: Tensor, options: ScalesOptions | null = {}): Tensor {
  const op = 'int8Scales';
  checkFloat(x, op, 'x');
  const perChannel = boolOption(readOptions<ScalesOptions>(options, op).perChannel, op, 'perChannel');
  if (perChannel && x.rank === 0) throw new Error(`${op}: perChannel needs x with at least 1 dimension, got a scalar`);
  rejectNaN(x, op, 'x');
  const { rows, cols } = channelsOf(x, perChannel);
  const out = empty(perChannel ? [rows] : [], 'float32');
  if (rows > 0) rt().kernels.absmax_rows_f32(x.offset, rows, cols, out.offset);
  const v = f32View(out.offset, rows);
  for (let i = 0; i < rows; i++) v[i] = v[i] > 0 ? Math.fround(v[i] / 127) : 1;
  for (let i = 0; i < rows; i++) {
    if (v[i] === Infinity) {
      out.dispose();
      throw new Error(`${op}: x contains ±Infinity${perChannel ? ` (channel ${i})` : ''}, which has no finite int8 scale`);
    }
  }
  return out;
}

function isPerChannel(v: ChannelValues | undefined): boolean {
  if (v === undefined || typeof v === 'number') return false;
  if (v instanceof Tensor) return !v.disposed && v.size !== 1;
  return (v as ArrayLike<number>).length !== 1;
}
