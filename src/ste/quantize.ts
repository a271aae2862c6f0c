import { composite, record } from '../autograd/tape.js';
import { f32Hard } from '../kernels/hard.js';
import { f32FakeQuant, f32FakeQuantBackward, f32Ternarize } from '../kernels/quant.js';
import { rejectNaN } from '../kernels/nan.js';
import { abs, add, clip, div, tanh, affine } from '../ops/elementwise.js';
import { sign } from '../ops/discrete.js';
import { max, mean } from '../ops/reduce.js';
import { checkFloat, checkNumber, F32_MAX } from '../tensor/checks.js';
import { boolOption, choiceOption, readOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { surrogateBackward, type SignOptions } from './sign.js';
import { identityGrad, straightThrough } from './straight.js';

function hardRound(op: 'round' | 'floor', x: Tensor): Tensor {
  checkFloat(x, `ste.${op}`, 'x');
  const { y } = f32Hard(op, x);
  return record(y, op, [x], (dy) => [identityGrad(dy)]);
}

/**
 * Round half to even (0.5 -> 0, 1.5 -> 2, -2.5 -> -2) with the straight-through
 * (identity) gradient. `sg.round` is the same forward value with its true gradient, 0.
 */
export function round(x: Tensor): Tensor {
  return hardRound('round', x);
}

/** Floor with the straight-through (identity) gradient; `sg.floor` has the true gradient, 0. */
export function floor(x: Tensor): Tensor {
  return hardRound('floor', x);
}

export interface QuantizeOptions {
  /** Bit width: 2..16 when signed, 1..16 when unsigned. */
  bits: number;
  /** Step between levels (> 0). */
  scale: number;
  /** Integer level that represents 0 (default 0); must lie in the level range. */
  zeroPoint?: number;
  /** Levels [-2^(bits-1), 2^(bits-1) - 1] (default) or [0, 2^bits - 1]. */
  signed?: boolean;
}

export function quantRange(op: string, options: QuantizeOptions): { qmin: number; qmax: number; scale: number; zeroPoint: number } {
  if (options === null || options === undefined) throw new Error(`${op}: options { bits, scale } are required`);
  const o = readOptions<QuantizeOptions>(options, op);
  const signed = boolOption(o.signed, op, 'signed', true);
  const bits = checkNumber(o.bits, op, 'bits', { integer: true, min: signed ? 2 : 1, max: 16 });
  // The kernel computes in float32: the scale must be a normal float32 (not 0, not Infinity once rounded).
  const scale = checkNumber(o.scale, op, 'scale', { positive: true, f32: true });
  const qmin = signed ? -(2 ** (bits - 1)) : 0;
  const qmax = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const zeroPoint = checkNumber(o.zeroPoint ?? 0, op, 'zeroPoint', { integer: true, min: qmin, max: qmax });
  const reach = Math.max(zeroPoint - qmin, qmax - zeroPoint);
  if (Math.fround(scale) * reach > F32_MAX) {
    throw new Error(`${op}: scale = ${scale} is too large: the outer level (${reach} steps from zeroPoint) times scale overflows float32; use scale <= ${F32_MAX / reach}`);
  }
  return { qmin, qmax, scale, zeroPoint };
}

/**
 * Fake quantization: q = clamp(roundHalfEven(x / scale) + zeroPoint, qmin, qmax),
 * y = (q - zeroPoint) * scale. Gradient: dy where the level was not clamped
 * (qmin <= roundHalfEven(x / scale) + zeroPoint <= qmax), 0 outside.
 */
export function quantize(x: Tensor, options: QuantizeOptions): Tensor {
  checkFloat(x, 'ste.quantize', 'x');
  const { qmin, qmax, scale, zeroPoint } = quantRange('ste.quantize', options);
  rejectNaN(x, 'ste.quantize', 'x');
  const params = { scale, zeroPoint, qmin, qmax };
  const y = f32FakeQuant(x, params);
  return record(y, 'quantize', [x], (dy) => [f32FakeQuantBackward(x, dy, params)]);
}

export interface TernarizeOptions {
  /** |x| <= threshold maps to 0 (default 0.05, as Larq's SteTern). */
  threshold?: number;
  /** 'identity' (default) or 'clipped' (dy where |x| <= clipValue). */
  grad?: 'identity' | 'clipped';
  clipValue?: number;
}

/** -1 below -threshold, +1 above threshold, 0 in between; surrogate gradient as chosen. */
export function ternarize(x: Tensor, options: TernarizeOptions | null = {}): Tensor {
  const op = 'ste.ternarize';
  checkFloat(x, op, 'x');
  const o = readOptions<TernarizeOptions>(options, op);
  const t = checkNumber(o.threshold ?? 0.05, op, 'threshold', { min: 0, f32: true });
  choiceOption(o.grad, op, 'grad', ['identity', 'clipped'], 'identity');
  rejectNaN(x, op, 'x');
  const backward = surrogateBackward(op, x, o as SignOptions);
  const y = f32Ternarize(x, t);
  return record(y, 'ternarize', [x], (dy) => [backward(dy)]);
}

export interface DorefaOptions {
  /** Bit width 1..16. */
  bits: number;
  /** 'activations' (default): clip to [0, 1] then quantize; 'weights': tanh-normalize to [-1, 1] then quantize. */
  mode?: 'activations' | 'weights';
}

/** quantize_k(r) = round((2^k - 1) r) / (2^k - 1) on r in [0, 1], straight-through. */
function quantizeUnit(r: Tensor, levels: number): Tensor {
  return straightThrough(r, (v) => {
    const scaled = affine(v, levels, 0);
    const { y: rounded } = f32Hard('round', scaled);
    scaled.dispose();
    const out = affine(rounded, 1 / levels, 0);
    rounded.dispose();
    return out;
  });
}

/**
 * The paper's 1-bit weight rule sign(w)·E|w|, E|w| the mean of |w| over the
 * whole tensor, straight-through (dx = dy; E|w| is a constant to the
 * gradient, as in the DoReFa reference code). sign(0) = 0, so w = 0 maps to 0.
 */
function signTimesMeanAbs(x: Tensor): Tensor {
  return straightThrough(x, (v) => {
    const a = abs(v);
    const m = mean(a);
    const e = m.item();
    a.dispose();
    m.dispose();
    const s = sign(v);
    const out = affine(s, e, 0);
    s.dispose();
    return out;
  });
}

/**
 * DoReFa-Net quantizer. Activations: quantize_k(clip(x, 0, 1)); the gradient
 * is dy inside [0, 1]. Weights, k >= 2: 2 quantize_k(tanh(x) / (2 max|tanh(x)|) + 1/2) - 1,
 * differentiated through tanh and the normalization, straight through the rounding.
 * Weights, k = 1: sign(x)·mean|x| (sign(0) = 0), gradient dy.
 */
export function dorefa(x: Tensor, options: DorefaOptions): Tensor {
  const op = 'ste.dorefa';
  checkFloat(x, op, 'x');
  if (options === null || options === undefined) throw new Error(`${op}: options { bits } are required`);
  const o = readOptions<DorefaOptions>(options, op);
  const bits = checkNumber(o.bits, op, 'bits', { integer: true, min: 1, max: 16 });
  const mode = choiceOption(o.mode, op, 'mode', ['activations', 'weights'], 'activations');
  rejectNaN(x, op, 'x');
  if (mode === 'weights' && x.size === 0) {
    throw new Error(`${op}: x is empty (shape [${x.shape}]); mode 'weights' normalizes by a statistic of all of x, which needs at least one element`);
  }
  const levels = 2 ** bits - 1;
  if (mode === 'activations') return composite(() => quantizeUnit(clip(x, 0, 1), levels));
  if (bits === 1) return signTimesMeanAbs(x);
  return composite(() => {
    const t = tanh(x);
    const m = max(abs(t));
    if (m.item() === 0) return affine(quantizeUnit(affine(t, 0, 0.5), levels), 2, -1);
    const r = add(div(t, affine(m, 2, 0)), 0.5);
    return affine(quantizeUnit(r, levels), 2, -1);
  });
}
