import { rt } from '../runtime/context.js';
import { checkFloat, checkNumber, checkRank, F32_MAX } from '../tensor/checks.js';
import { cachedDerived } from '../tensor/derived.js';
import { readOptions } from '../tensor/options.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { checkBits } from './bitpack.js';
import { channelValues, withFloatArgs, type ChannelValues } from './internal/args.js';
import { parallelTiles, TILE_LENGTH, type TileArg } from '../runtime/parallel.js';
import { produce } from './workspace.js';

/** Output channels per panel of the BinaryConnect weights (assembly/gemm_b1.ts B1W_NR). */
const B1W_NR = 8;

/** Cost of a binary product in f32-multiply-add equivalents: a popcount covers 64 elements in a few instructions. */
const binaryCost = (M: number, N: number, words: number): number => M * N * Math.max(words, 1) * 4;

/** The tile arguments m0, m1, n0, n1 of a driver. */
const TILE: TileArg[] = [{ i0: 1 }, { i1: 1 }, { j0: 1 }, { j1: 1 }];

// Binary GEMMs (kernels: assembly/gemm_b1.ts, twin: reference/gemm_b1.ts) on
// bits packed by packBits. Rows of bBits / wBits are output channels.

function checkK(k: unknown, op: string): number {
  return checkNumber(k, op, 'k', { integer: true, min: 0, max: 2 ** 31 - 1 });
}

function operands(aBits: Tensor, bBits: Tensor, k: unknown, op: string): { M: number; N: number; k: number; words: number } {
  const kk = checkK(k, op);
  const [M, words] = checkBits(aBits, kk, op, 'aBits');
  const [N] = checkBits(bBits, kk, op, 'bBits');
  return { M, N, k: kk, words };
}

/**
 * ±1 matrix product on packed bits: aBits [M, W], bBits [N, W] (int32 words
 * from packBits, W = ceil(k/128)*4), k the true length ->
 * int32 [M, N] = k - 2·popcount(a_m XOR b_n), i.e. A·Bᵀ of the ±1 values.
 */
export function binaryMatmul(aBits: Tensor, bBits: Tensor, k: number): Tensor {
  return product(aBits, bBits, k, 'binaryMatmul', 'int32');
}

/** The same product as float32 (exact: k < 2^24), for epilogues that compare or scale in float. */
export function binaryMatmulF32(aBits: Tensor, bBits: Tensor, k: number, op = 'binaryMatmul'): Tensor {
  if (typeof k === 'number' && k > 2 ** 24) throw new Error(`${op}: k = ${k} is too large for exact float32 sums (k <= ${2 ** 24})`);
  return product(aBits, bBits, k, op, 'float32');
}

function product(aBits: Tensor, bBits: Tensor, k: number, op: string, dtype: 'int32' | 'float32'): Tensor {
  const { M, N, k: kk, words } = operands(aBits, bBits, k, op);
  const out = empty([M, N], dtype);
  if (M > 0 && N > 0) {
    parallelTiles({
      kernel: dtype === 'int32' ? 'gemm_b1' : 'gemm_b1_f32',
      rows: { begin: 0, end: M, align: 2 },
      cols: { begin: 0, end: N, align: 2 },
      cost: binaryCost(M, N, words),
      args: [kk, words, aBits.offset, words, bBits.offset, words, out.offset, N, 1, 0, 0, 0, ...TILE],
    });
  }
  return out;
}

export interface BinaryScaleOptions {
  /** Per-output-channel (or one) float scale, e.g. XNOR-Net's mean |w|. Default 1. */
  scale?: ChannelValues;
  /** Per-output-channel (or one) float bias. Default 0. */
  bias?: ChannelValues;
}

/**
 * XNOR-Net style output: float32 [M, N] = scale[n]·(k - 2·popcount(a_m XOR b_n)) + bias[n]
 * (multiply and add rounded separately, never fused).
 */
export function binaryMatmulScaled(aBits: Tensor, bBits: Tensor, k: number, options: BinaryScaleOptions | null = {}): Tensor {
  const op = 'binaryMatmulScaled';
  options = readOptions<BinaryScaleOptions>(options, op);
  const { M, N, k: kk, words } = operands(aBits, bBits, k, op);
  const scale = channelValues(options.scale, N, op, 'scale', { fallback: 1 });
  const bias = channelValues(options.bias, N, op, 'bias', { fallback: 0 });
  // |k - 2·popcount| <= k: the float result must stay finite for every possible pair of rows.
  for (let n = 0; n < N; n++) {
    if (Math.abs(scale[n]) * kk + Math.abs(bias[n]) > F32_MAX) {
      throw new Error(`${op}: scale${N > 1 ? `[${n}]` : ''} = ${scale[n]} times k = ${kk} (plus bias) overflows float32; use |scale| <= ${(F32_MAX - Math.abs(bias[n])) / Math.max(kk, 1)}`);
    }
  }
  const out = empty([M, N], 'float32');
  if (M > 0 && N > 0) {
    withFloatArgs([scale, bias], ([s, b]) => parallelTiles({
      kernel: 'gemm_b1_scaled',
      rows: { begin: 0, end: M, align: 2 },
      cols: { begin: 0, end: N, align: 2 },
      cost: binaryCost(M, N, words),
      args: [kk, words, aBits.offset, words, bBits.offset, words, out.offset, N, 1, 0, 0, 0, ...TILE, s, b],
    }));
  }
  return out;
}

/**
 * BinaryConnect: float32 activations x [M, K] times binary weights wBits
 * [N, ceil(K/128)*4] (packBits of the float weights [N, K]) -> float32 [M, N]
 * = scale[n]·Σ_k ±x[m,k] + bias[n], where the sign of each term is the
 * weight's (bit 1 = -1). No multiplies: the weight bit flips x's sign bit.
 * Sums run in float32 in increasing k (see reference/gemm_b1.ts). The weight
 * panels are cached with wBits (rebuilt after markModified).
 */
export function binaryWeightsMatmul(x: Tensor, wBits: Tensor, options: BinaryScaleOptions | null = {}): Tensor {
  const op = 'binaryWeightsMatmul';
  checkFloat(x, op, 'x');
  checkRank(x, op, 'x', 2);
  options = readOptions<BinaryScaleOptions>(options, op);
  const [M, K] = x.shape;
  const [N, words] = checkBits(wBits, K, op, 'wBits');
  const scale = channelValues(options.scale, N, op, 'scale', { fallback: 1 });
  const bias = channelValues(options.bias, N, op, 'bias', { fallback: 0 });
  const out = empty([M, N], 'float32');
  if (M === 0 || N === 0) return out;
  return produce(out, () => {
    const { kernels } = rt();
    const used = (K + 31) >> 5;
    const panels = cachedDerived(wBits, `gemm_b1w.panels:${K}`, kernels.gemm_b1w_packed_bytes(N, K), (off) => {
      // Panels of B1W_NR channels are independent: split over channels (used·4 bytes per channel).
      parallelTiles({
        kernel: 'gemm_b1w_pack',
        rows: { begin: 0, end: N, align: B1W_NR },
        cost: 4 * N * used,
        args: [{ c: wBits.offset, i0: words * 4 }, TILE_LENGTH, words, K, { c: off, i0: used * 4 }],
      });
    });
    withFloatArgs([scale, bias], ([s, b]) => parallelTiles({
      kernel: 'gemm_b1w_f32',
      rows: { begin: 0, end: M, align: 4 },
      cols: { begin: 0, end: N, align: B1W_NR },
      cost: M * N * Math.max(K, 1),
      args: [K, x.offset, K, panels, out.offset, N, 1, 0, 0, 0, ...TILE, s, b],
    }));
  });
}
