import { rt } from '../runtime/context.js';
import { checkDType, checkFloat, describe, F32_MAX, F32_MIN_NORMAL } from '../tensor/checks.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { empty, rawF32, Tensor } from '../tensor/tensor.js';
import { channelValues, withFloatArgs, type ChannelValues } from './internal/args.js';
import { rejectNaN } from './nan.js';

// int8 / uint8 quantization (kernels: assembly/quant_s8.ts, twin:
// reference/quant_s8.ts).
//
// Rounding is round half to even (0.5 -> 0, 1.5 -> 2, -2.5 -> -2).
// Ranges: symmetric int8 (no zeroPoint) is [-127, 127], so q and -q are both
// representable and max|x| maps to ±127; asymmetric int8 (a zeroPoint is
// given) is [-128, 127]; uint8 is [0, 255].

export interface QuantizeInt8Options {
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
export function quantizeInt8(x: Tensor, options: QuantizeInt8Options): Tensor {
  const op = 'quantizeInt8';
  checkFloat(x, op, 'x');
  if (options === null || typeof options !== 'object') throw new Error(`${op}: options must be an object with a scale, got ${describe(options)}`);
  options = readOptions<QuantizeInt8Options>(options, op) as QuantizeInt8Options;
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

export interface DequantizeInt8Options {
  scale: ChannelValues;
  /** Integer zero point(s); default 0. */
  zeroPoint?: ChannelValues;
}

/** x = (q - zeroPoint) · scale in float32, per tensor or per channel (first axis). q is int8 or uint8. */
export function dequantizeInt8(q: Tensor, options: DequantizeInt8Options): Tensor {
  const op = 'dequantizeInt8';
  checkDType(q, op, 'q', 'int8', 'uint8');
  if (options === null || typeof options !== 'object') throw new Error(`${op}: options must be an object with a scale, got ${describe(options)}`);
  options = readOptions<DequantizeInt8Options>(options, op) as DequantizeInt8Options;
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
  const v = rawF32(out);
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
