// Convolutions on integer NHWC activations through the existing integer GEMMs
// (im2col in chunks of patch rows). Scalar twin: src/reference/conv_binary.ts.
//
//   conv_u8b1: uint8 pixels x ±1 weights (gemm_u8b1), exact: the first layer of
//              a binary net that sees raw pixels. Zero padding is pixel 0.
//              Weights: bits [Cout, ceil(K/128)·4], element (ky·kw + kx)·C + c
//              contiguous (pack_hwio_bits_f32 with aligned = 0), then
//              gemm_u8b1_pack_w patterns.
//   conv_s8:   int8 x int8 (gemm_s8) for a frozen QuantConv2d; padded taps
//              hold the input's zero point, so Σ (x - zp)·w stays exact with
//              the zero-point term a per-channel constant (the caller's bias).
//              Weights: HWIO int8 [K, Cout] is gemm_s8's B as stored (packed
//              with gemm_s8_pack_b, transB = 0).
// Patch rows are K = kh·kw·C bytes in (ky, kx, c) order (im2colBytes).
import { GEO_C, GEO_KH, GEO_KW, GEO_N, GEO_OH, GEO_OW, OUT_BITS, OUT_I32, geoAt, im2colBytes, finishTile } from "./conv_common";
import { gemm_u8b1, gemm_u8b1_workspace_bytes } from "./gemm_u8b1";
import { gemm_s8, gemm_s8_dequant, gemm_s8_requant, gemm_s8_workspace_bytes } from "./gemm_s8";

@inline function patchK(geo: usize): i32 {
  return geoAt(geo, GEO_KH) * geoAt(geo, GEO_KW) * geoAt(geo, GEO_C);
}

/** Patch rows [row0, row1) of uint8 NHWC x (geo: GEO_PIXEL = C) into out, rows K bytes apart; padded taps are 0. */
export function im2col_u8(geo: usize, x: usize, row0: i32, row1: i32, out: usize): void {
  im2colBytes(geo, x, 1, 0, row0, row1, out, <usize>patchK(geo));
}

/** Patch rows [row0, row1) of int8 NHWC x into out, rows K bytes apart; padded taps are the zero point zp. */
export function im2col_s8(geo: usize, x: usize, zp: i32, row0: i32, row1: i32, out: usize): void {
  im2colBytes(geo, x, 1, zp, row0, row1, out, <usize>patchK(geo));
}

/** Workspace of conv_u8b1 (K = kh·kw·C): `chunk` patch rows, an int32 tile (OUT_BITS) and gemm_u8b1's own. */
export function conv_u8b1_workspace_bytes(K: i32, chunk: i32, Cout: i32): i32 {
  return ((chunk * K + 15) & ~15) + chunk * Cout * 4 + gemm_u8b1_workspace_bytes(K);
}

/**
 * uint8 convolution with ±1 weights: patterns from gemm_u8b1_pack_w, modes as
 * conv_b1 (OUT_I32 / OUT_F32 with scale and bias / OUT_BITS by thresholds),
 * output pixels [m0, m1) (a tile, as conv_b1).
 */
export function conv_u8b1(mode: i32, geo: usize, x: usize, patterns: usize, Cout: i32, out: usize,
                          scale: usize, bias: usize, thr: usize, dir: usize, work: usize, chunk: i32, m0: i32, m1: i32): void {
  const M = min(m1, geoAt(geo, GEO_N) * geoAt(geo, GEO_OH) * geoAt(geo, GEO_OW));
  const K = patchK(geo);
  const rowsBuf = work;
  const tile = work + (<usize>(chunk * K + 15) & ~15);
  const gwork = tile + <usize>chunk * <usize>Cout * 4;
  const outWords = mode == OUT_BITS ? (Cout + 31) >> 5 : Cout;
  for (let r0 = max(m0, 0); r0 < M; r0 += chunk) {
    const rows = min(chunk, M - r0);
    im2col_u8(geo, x, r0, r0 + rows, rowsBuf);
    const dst = out + (<usize>r0 * <usize>outWords << 2);
    const t = mode == OUT_BITS ? tile : dst;
    gemm_u8b1(K, rowsBuf, K, 0, patterns, t, Cout, 1, 0, 0, 0, 0, rows, 0, Cout, gwork);
    if (mode != OUT_I32) finishTile(mode, geo, t, rows, r0, Cout, dst, 0, scale, bias, thr, dir);
  }
}

/** Workspace of conv_s8 (K = kh·kw·C): `chunk` patch rows and gemm_s8's widened rows. */
export function conv_s8_workspace_bytes(K: i32, chunk: i32): i32 {
  return ((chunk * K + 15) & ~15) + gemm_s8_workspace_bytes(chunk, K);
}

/**
 * int8 convolution: packedB from gemm_s8_pack_b of the HWIO weights [K, Cout].
 * mode 0: int32 acc; 1: float32 f32(acc)·mult + add; 2: int8 requantized
 * (gemm_s8's formulas); output rows [M, Cout], of which this call writes
 * pixels [m0, m1) (a tile, as conv_b1).
 */
export function conv_s8(mode: i32, geo: usize, x: usize, zp: i32, packedB: usize, Cout: i32, out: usize,
                        mult: usize, add: usize, work: usize, chunk: i32, m0: i32, m1: i32): void {
  const M = min(m1, geoAt(geo, GEO_N) * geoAt(geo, GEO_OH) * geoAt(geo, GEO_OW));
  const K = patchK(geo);
  const rowsBuf = work;
  const gwork = work + (<usize>(chunk * K + 15) & ~15);
  const elem: usize = mode == 2 ? 1 : 4;
  const lda = max(K, 1);
  for (let r0 = max(m0, 0); r0 < M; r0 += chunk) {
    const rows = min(chunk, M - r0);
    im2col_s8(geo, x, zp, r0, r0 + rows, rowsBuf);
    const dst = out + <usize>r0 * <usize>Cout * elem;
    if (mode == 0) gemm_s8(K, rowsBuf, lda, packedB, dst, Cout, 1, 0, 0, 0, 0, rows, 0, Cout, gwork);
    else if (mode == 1) gemm_s8_dequant(K, rowsBuf, lda, packedB, dst, Cout, 1, 0, 0, 0, 0, rows, 0, Cout, gwork, mult, add);
    else gemm_s8_requant(K, rowsBuf, lda, packedB, dst, Cout, 1, 0, 0, 0, 0, rows, 0, Cout, gwork, mult, add);
  }
}
