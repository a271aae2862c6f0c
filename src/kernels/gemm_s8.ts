import { rt } from '../runtime/context.js';
import { checkDType, checkRank, F32_MAX, F32_MIN_NORMAL } from '../tensor/checks.js';
import { cachedDerived } from '../tensor/derived.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { channelValues, withFloatArgs, type ChannelValues } from './internal/args.js';
import { parallelTiles, TILE_LENGTH, WORKSPACE } from '../runtime/parallel.js';
import { produce } from './workspace.js';

// int8 GEMM (kernels: assembly/gemm_s8.ts, twin: reference/gemm_s8.ts):
// int8 x int8 with int32 accumulation. B (the weights) is packed once into
// i16 panels and cached with the tensor (rebuilt after markModified).

/** Largest K for which no int32 sum can wrap: 131071 · 128 · 128 < 2^31. */
export const INT8_MAX_K = 131071;

export interface Int8MatmulOptions {
  /** b is stored [N, K] (the usual weight layout) instead of [K, N]. */
  transposeB?: boolean;
}

interface Operands { M: number; N: number; K: number; tb: boolean }

function operands(a: Tensor, b: Tensor, options: Int8MatmulOptions | null, op: string): Operands {
  checkDType(a, op, 'a', 'int8');
  checkDType(b, op, 'b', 'int8');
  checkRank(a, op, 'a', 2);
  checkRank(b, op, 'b', 2);
  const tb = boolOption(readOptions<Int8MatmulOptions>(options, op).transposeB, op, 'transposeB');
  const [M, K] = a.shape;
  const [Kb, N] = tb ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (Kb !== K) {
    throw new Error(`${op}: inner dimensions differ: a is [${M}, ${K}] but ${tb ? 'bᵀ' : 'b'} is [${Kb}, ${N}] (b has shape [${b.shape}])`);
  }
  if (K > INT8_MAX_K) throw new Error(`${op}: K = ${K} is too large; int32 sums of int8 products may overflow past K = ${INT8_MAX_K}`);
  return { M, N, K, tb };
}

/** The combined float32 multipliers must be finite normal numbers, or outputs become Infinity or 0. */
function checkMultipliers(mult: Float32Array, op: string, what: string): void {
  for (let n = 0; n < mult.length; n++) {
    if (!(mult[n] >= F32_MIN_NORMAL && mult[n] <= F32_MAX)) {
      throw new Error(`${op}: ${what}${mult.length > 1 ? ` for channel ${n}` : ''} is ${mult[n]} in float32, which is not a positive normal float32 value; choose scales whose product stays within [${F32_MIN_NORMAL}, ${F32_MAX}]`);
    }
  }
}

type S8Kernel = 'gemm_s8' | 'gemm_s8_dequant' | 'gemm_s8_requant';

/** Channels per packed panel of B (assembly/gemm_s8.ts NR): tiles of the packing start on panels. */
const S8_NR = 8;

/**
 * Runs one of the gemm_s8 exports (one product, all of C) with packed B,
 * split into tiles of C over the worker pool when it pays; `epilogue` are the
 * per-channel mult and add of the dequantizing forms.
 */
function run(a: Tensor, b: Tensor, o: Operands, out: Tensor, kernel: S8Kernel, epilogue: Float32Array[] = []): Tensor {
  if (o.M === 0 || o.N === 0) return out;
  return produce(out, () => {
    const { kernels } = rt();
    const { M, N, K, tb } = o;
    const k2 = (K + 1) >> 1;
    const packedB = cachedDerived(b, `gemm_s8.packB:${tb ? 1 : 0}`, kernels.gemm_s8_packed_b_bytes(N, K), (off) => {
      // Panels of S8_NR channels are independent: split over channels (k2·4 bytes per channel).
      const ldb = tb ? K : N;
      parallelTiles({
        kernel: 'gemm_s8_pack_b',
        rows: { begin: 0, end: N, align: S8_NR },
        cost: 2 * N * K,
        args: [{ c: b.offset, i0: tb ? ldb : 1 }, ldb, TILE_LENGTH, K, tb ? 1 : 0, { c: off, i0: k2 * 4 }],
      });
    });
    withFloatArgs(epilogue, (md) => parallelTiles({
      kernel,
      rows: { begin: 0, end: M, align: 4 },
      cols: { begin: 0, end: N, align: S8_NR },
      cost: M * N * Math.max(K, 1),
      workspace: (rows) => kernels.gemm_s8_workspace_bytes(rows, K),
      args: [K, a.offset, Math.max(K, 1), packedB, out.offset, N, 1, 0, 0, 0, { i0: 1 }, { i1: 1 }, { j0: 1 }, { j1: 1 }, WORKSPACE, ...md],
    }));
  });
}

/** int8 a [M, K] times int8 b ([K, N], or [N, K] with transposeB) -> int32 [M, N]. */
export function int8Matmul(a: Tensor, b: Tensor, options: Int8MatmulOptions | null = {}): Tensor {
  const o = operands(a, b, options, 'int8Matmul');
  const out = empty([o.M, o.N], 'int32');
  return run(a, b, o, out, 'gemm_s8');
}

export interface Int8DequantizeOptions extends Int8MatmulOptions {
  /** Scale of a (per tensor). */
  scaleA: number;
  /** Scale of b: one value or one per output channel n. */
  scaleB: ChannelValues;
  /** float bias per output channel (or one). Default 0. */
  bias?: ChannelValues;
}

/**
 * Dequantized int8 product: float32 [M, N] = f32(acc)·(scaleA·scaleB[n]) + bias[n],
 * acc the int32 sum (multiply and add rounded separately, never fused).
 */
export function int8MatmulDequantize(a: Tensor, b: Tensor, options: Int8DequantizeOptions): Tensor {
  const op = 'int8MatmulDequantize';
  const o = operands(a, b, options, op);
  const { mult, add } = dequantizeArgs(options, o.N, o.K, op);
  const out = empty([o.M, o.N], 'float32');
  return run(a, b, o, out, 'gemm_s8_dequant', [mult, add]);
}

/**
 * The dequantize epilogue of N channels over sums of K int8 products:
 * mult[n] = f32(scaleA·scaleB[n]), add[n] = bias[n], checked so every output is finite.
 * (Shared with int8Conv2d in conv_binary.ts.)
 */
export function dequantizeArgs(options: unknown, N: number, K: number, op: string): { mult: Float32Array; add: Float32Array } {
  const o = readOptions<Int8DequantizeOptions>(options, op) as Int8DequantizeOptions;
  const mult = channelValues(o.scaleB, N, op, 'scaleB', { positive: true });
  const sa = channelValues(o.scaleA, 1, op, 'scaleA', { positive: true })[0];
  for (let n = 0; n < N; n++) mult[n] = Math.fround(sa * mult[n]);
  checkMultipliers(mult, op, 'scaleA·scaleB');
  const add = channelValues(o.bias, N, op, 'bias', { fallback: 0 });
  // |acc| <= K·128·128: the float result must stay finite for every possible int8 input.
  for (let n = 0; n < N; n++) {
    if (K * 16384 * mult[n] + Math.abs(add[n]) > F32_MAX) {
      throw new Error(`${op}: scaleA·scaleB${N > 1 ? ` for channel ${n}` : ''} = ${mult[n]} is too large: sums of ${K} int8 products times it (plus bias) can overflow float32; use scales with scaleA·scaleB <= ${(F32_MAX - Math.abs(add[n])) / (Math.max(K, 1) * 16384)}`);
    }
  }
  return { mult, add };
}

export interface Int8RequantizeOptions extends Int8DequantizeOptions {
  /** Scale of the int8 output (per tensor). */
  scaleOut: number;
}

/**
 * Requantized int8 product: int8 [M, N] = clamp(roundHalfEven(f32(acc)·mult[n] + add[n]), -127, 127)
 * with mult[n] = f32(f32(scaleA·scaleB[n]) / scaleOut) and add[n] = f32(bias[n] / scaleOut):
 * symmetric int8 output with round half to even.
 */
export function int8MatmulRequantize(a: Tensor, b: Tensor, options: Int8RequantizeOptions): Tensor {
  const op = 'int8MatmulRequantize';
  const o = operands(a, b, options, op);
  const { mult, add } = requantizeArgs(options, o.N, op);
  const out = empty([o.M, o.N], 'int8');
  return run(a, b, o, out, 'gemm_s8_requant', [mult, add]);
}

/**
 * The requantize epilogue of N channels: mult[n] = f32(f32(scaleA·scaleB[n]) / scaleOut),
 * add[n] = f32(bias[n] / scaleOut), checked. (Shared with int8Conv2d in conv_binary.ts.)
 */
export function requantizeArgs(options: unknown, N: number, op: string): { mult: Float32Array; add: Float32Array } {
  const o = readOptions<Int8RequantizeOptions>(options, op) as Int8RequantizeOptions;
  const mult = channelValues(o.scaleB, N, op, 'scaleB', { positive: true });
  const sa = channelValues(o.scaleA, 1, op, 'scaleA', { positive: true })[0];
  const so = channelValues(o.scaleOut, 1, op, 'scaleOut', { positive: true })[0];
  const add = channelValues(o.bias, N, op, 'bias', { fallback: 0 });
  for (let n = 0; n < N; n++) {
    mult[n] = Math.fround(Math.fround(sa * mult[n]) / so);
    add[n] = Math.fround(add[n] / so);
  }
  checkMultipliers(mult, op, 'scaleA·scaleB / scaleOut');
  for (let n = 0; n < N; n++) {
    if (!Number.isFinite(add[n])) throw new Error(`${op}: bias${N > 1 ? `[${n}]` : ''} / scaleOut overflows float32 (scaleOut = ${so}); use a larger scaleOut or a smaller bias`);
  }
  return { mult, add };
}
