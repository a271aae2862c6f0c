// Binary convolution on bit-packed NHWC activations. Scalar twin:
// src/reference/conv_binary.ts.
//
// Packed activations: int32 words [N, H, W, Cw], Cw = ceil(C/32), with
// packBits' bit convention (bitpack.ts): bit 1 = -1, bit 0 = +1, channel c is
// bit c % 32 of word c / 32, bits past C are 0. (Unlike packBits' matrix rows,
// a pixel is not padded to 128 bits: the im2col row is.)
//
// Packed weights (pack_hwio_bits_f32 with aligned = 1): [Cout, ldw] words,
// tap t = ky·kw + kx taking words [t·Cw, (t+1)·Cw) with the same channel
// bits, then zero words up to ldw = ceil(kh·kw·Cw / 4)·4 (gemm_b1 streams
// 16-byte chunks). An im2col row (im2col_b1) has exactly this layout, so
//   dot = K - 2·popcount(row XOR w),  K = kh·kw·C real bits,
// and channel-tail bits, zero in both, never count.
//
// Padding: a tap outside the input is the +1 pattern, which is the all-zero
// word: this is one-padding (Larq's pad_values = 1.0), and dot is then the
// convolution of the ±1 values with +1 around the image. True zero padding
// subtracts Σ_c w[tap, c, co] for every padded tap; that correction depends on
// (oy, ox) only through which kernel rows and columns fall outside, so it is a
// small table indexed by (row class, column class), nonzero only for border
// pixels (conv_b1_pad_table; the pad block layout is in conv_common.finishTile).
import {
  GEO_C, GEO_DH, GEO_DW, GEO_H, GEO_KH, GEO_KW, GEO_N, GEO_OH, GEO_OW, GEO_PIXEL, GEO_PL, GEO_PT, GEO_SH, GEO_SW, GEO_W,
  OUT_F32, OUT_I32, geoAt, im2colBytes, finishTile,
} from "./conv_common";
import { gemm_b1, gemm_b1_scaled } from "./gemm_b1";

/**
 * Packs float32 HWIO weights [taps, Cin, Cout] (taps = kh·kw) into bits per
 * output channel: out[co] row of ldo words. aligned = 1: tap t at words
 * [t·ceil(Cin/32), ...) (binary conv); aligned = 0: element t·Cin + c at bit
 * j of word j / 32, contiguous (the uint8 x 1-bit GEMM's rows). Bit 1 when
 * w < 0; all other bits up to ldo words are 0. Returns the NaN count.
 */
export function pack_hwio_bits_f32(w: usize, taps: i32, Cin: i32, Cout: i32, aligned: i32, out: usize, ldo: i32): i32 {
  const cw = (Cin + 31) >> 5;
  let nan = 0;
  memory.fill(out, 0, <usize>Cout * <usize>ldo << 2);
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < Cin; c++) {
      const j = aligned ? (t * cw << 5) + c : t * Cin + c;
      const src = w + (<usize>(t * Cin + c) * <usize>Cout << 2);
      const word = <usize>(j >> 5) << 2;
      const bit = <u32>1 << <u32>(j & 31);
      for (let co = 0; co < Cout; co++) {
        const v = load<f32>(src + (<usize>co << 2));
        if (v != v) nan++;
        if (v < 0) {
          const p = out + (<usize>co * <usize>ldo << 2) + word;
          store<u32>(p, load<u32>(p) | bit);
        }
      }
    }
  }
  return nan;
}

/**
 * Patch rows [row0, row1) of packed activations x (geo: GEO_PIXEL = Cw) into
 * out, rows ldo words apart (ldo >= kh·kw·Cw): padded taps are the +1
 * pattern (0 words), words past the taps are 0.
 */
export function im2col_b1(geo: usize, x: usize, row0: i32, row1: i32, out: usize, ldo: i32): void {
  im2colBytes(geo, x, 4, 0, row0, row1, out, <usize>ldo << 2);
}

/**
 * Fills the zero-padding table of packed weights w [Cout, ldw]: entry
 * (rc, cc, co) = -Σ over taps (ky, kx) with rowTaps[rc·kh + ky] == 0 or
 * colTaps[cc·kw + kx] == 0 of Σ_c w[tap, c, co] (= C - 2·popcount of the
 * tap's words). rowTaps / colTaps: i32 flags, 1 = that kernel row / column
 * reads inside the input for pixels of that class.
 */
export function conv_b1_pad_table(geo: usize, w: usize, ldw: i32, Cout: i32, rowTaps: usize, nRC: i32, colTaps: usize, nCC: i32, out: usize): void {
  const kh = geoAt(geo, GEO_KH), kw = geoAt(geo, GEO_KW), C = geoAt(geo, GEO_C), cw = geoAt(geo, GEO_PIXEL);
  for (let rc = 0; rc < nRC; rc++) {
    for (let cc = 0; cc < nCC; cc++) {
      const dst = out + (<usize>(rc * nCC + cc) * <usize>Cout << 2);
      for (let co = 0; co < Cout; co++) {
        const row = w + (<usize>co * <usize>ldw << 2);
        let s = 0;
        for (let ky = 0; ky < kh; ky++) {
          const rv = load<i32>(rowTaps + (<usize>(rc * kh + ky) << 2));
          for (let kx = 0; kx < kw; kx++) {
            if (rv != 0 && load<i32>(colTaps + (<usize>(cc * kw + kx) << 2)) != 0) continue;
            const tw = row + (<usize>((ky * kw + kx) * cw) << 2);
            let pop = 0;
            for (let i = 0; i < cw; i++) pop += <i32>popcnt<u32>(load<u32>(tw + (<usize>i << 2)));
            s += C - (pop << 1);
          }
        }
        store<i32>(dst + (<usize>co << 2), -s);
      }
    }
  }
}

/** Workspace of conv_b1 for chunks of `chunk` patch rows: the rows, then an int32 tile. */
export function conv_b1_workspace_bytes(chunk: i32, ldw: i32, Cout: i32): i32 {
  return chunk * ldw * 4 + chunk * Cout * 4;
}

/**
 * Binary convolution: packed x (geo) times packed weights w [Cout, ldw], output
 * pixels [m0, m1) of M = N·oH·oW (a tile: every pixel's result is independent
 * of the range), `chunk` patch rows at a time through `work`
 * (conv_b1_workspace_bytes). pad = 0: one-padding; else the pad block
 * (zero padding). mode (conv_common): OUT_I32 int32 [M, Cout]; OUT_F32
 * float32 [M, Cout] = f32(dot)·scale + bias; OUT_BITS packed [M, ceil(Cout/32)]
 * by per-channel integer thresholds thr / directions dir (i32 [Cout]).
 */
export function conv_b1(mode: i32, geo: usize, x: usize, w: usize, ldw: i32, Cout: i32, out: usize, pad: usize,
                        scale: usize, bias: usize, thr: usize, dir: usize, work: usize, chunk: i32, m0: i32, m1: i32): void {
  const M = min(m1, geoAt(geo, GEO_N) * geoAt(geo, GEO_OH) * geoAt(geo, GEO_OW));
  const K = geoAt(geo, GEO_KH) * geoAt(geo, GEO_KW) * geoAt(geo, GEO_C);
  const rowsBuf = work;
  const tile = work + <usize>chunk * <usize>ldw * 4;
  const outWords = mode == OUT_I32 || mode == OUT_F32 ? Cout : (Cout + 31) >> 5;
  for (let r0 = max(m0, 0); r0 < M; r0 += chunk) {
    const rows = min(chunk, M - r0);
    im2col_b1(geo, x, r0, r0 + rows, rowsBuf, ldw);
    const dst = out + (<usize>r0 * <usize>outWords << 2);
    if (mode == OUT_F32 && pad == 0) {
      // Nothing to correct: the GEMM's own epilogue gives the same bits as finishTile.
      gemm_b1_scaled(K, ldw, rowsBuf, ldw, w, ldw, dst, Cout, 1, 0, 0, 0, 0, rows, 0, Cout, scale, bias);
      continue;
    }
    // int32 and float32 outputs are finished in place (4 bytes each); bits from the tile.
    const t = mode == OUT_I32 || mode == OUT_F32 ? dst : tile;
    gemm_b1(K, ldw, rowsBuf, ldw, w, ldw, t, Cout, 1, 0, 0, 0, 0, rows, 0, Cout);
    finishTile(mode, geo, t, rows, r0, Cout, dst, pad, scale, bias, thr, dir);
  }
}

/**
 * Max pool of ±1 values on packed NHWC words (geo: GEO_PIXEL = Cw, kernel
 * kh x kw, no dilation needed but honoured): max is -1 only when every value
 * is -1, i.e. the AND of the words over the window's taps inside the input
 * (padded taps are ignored; the host rejects windows with none).
 * out: [N, oH, oW, Cw]; this call writes output rows [row0, row1) of the
 * N·oH rows (n, oy), a tile.
 */
export function maxpool_b1(geo: usize, x: usize, out: usize, row0: i32, row1: i32): void {
  const N = geoAt(geo, GEO_N), H = geoAt(geo, GEO_H), W = geoAt(geo, GEO_W);
  const kh = geoAt(geo, GEO_KH), kw = geoAt(geo, GEO_KW);
  const sH = geoAt(geo, GEO_SH), sW = geoAt(geo, GEO_SW);
  const dH = geoAt(geo, GEO_DH), dW = geoAt(geo, GEO_DW);
  const pT = geoAt(geo, GEO_PT), pL = geoAt(geo, GEO_PL);
  const oH = geoAt(geo, GEO_OH), oW = geoAt(geo, GEO_OW);
  const cw = geoAt(geo, GEO_PIXEL);
  const pixBytes = <usize>cw << 2;
  const vec = cw & ~3;
  const end = min(row1, N * oH);
  for (let row = max(row0, 0); row < end; row++) {
    const n = row / oH, oy = row - n * oH;
    for (let ox = 0; ox < oW; ox++) {
      const dst = out + ((<usize>n * <usize>oH + <usize>oy) * <usize>oW + <usize>ox) * pixBytes;
      let first = true;
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sH - pT + ky * dH;
        if (iy < 0 || iy >= H) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * sW - pL + kx * dW;
          if (ix < 0 || ix >= W) continue;
          const src = x + ((<usize>n * <usize>H + <usize>iy) * <usize>W + <usize>ix) * pixBytes;
          if (first) {
            memory.copy(dst, src, pixBytes);
            first = false;
            continue;
          }
          let i = 0;
          for (; i < vec; i += 4) {
            const o = <usize>i << 2;
            v128.store(dst + o, v128.and(v128.load(dst + o), v128.load(src + o)));
          }
          for (; i < cw; i++) {
            const o = <usize>i << 2;
            store<u32>(dst + o, load<u32>(dst + o) & load<u32>(src + o));
          }
        }
      }
    }
  }
}

/**
 * Flattens packed NHWC activations [N, P, Cw] (P = H·W pixels of C channels)
 * into packBits rows [N, words]: element p·C + c of row n is channel c of
 * pixel p, so a binary dense layer after a conv stack reads them directly.
 * Bits past P·C up to `words` words are 0 (words >= ceil(P·C/32)).
 */
export function flatten_bits_nhwc(x: usize, N: i32, P: i32, C: i32, out: usize, words: i32): void {
  const cw = (C + 31) >> 5;
  for (let n = 0; n < N; n++) {
    const src = x + (<usize>n * <usize>P * <usize>cw << 2);
    const dst = out + (<usize>n * <usize>words << 2);
    if ((C & 31) == 0) {
      memory.copy(dst, src, <usize>P * <usize>cw << 2);
      memory.fill(dst + (<usize>P * <usize>cw << 2), 0, <usize>(words - P * cw) << 2);
      continue;
    }
    memory.fill(dst, 0, <usize>words << 2);
    // acc holds `have` pending bits (low first); whole words are written as they fill.
    let acc: u64 = 0;
    let have: u32 = 0;
    let o = dst;
    for (let p = 0; p < P; p++) {
      const px = src + (<usize>p * <usize>cw << 2);
      for (let i = 0; i < cw; i++) {
        const bits = i == cw - 1 ? C - (i << 5) : 32;
        acc |= <u64>load<u32>(px + (<usize>i << 2)) << have;
        have += <u32>bits;
        if (have >= 32) {
          store<u32>(o, <u32>acc);
          o += 4;
          acc >>= 32;
          have -= 32;
        }
      }
    }
    if (have > 0) store<u32>(o, <u32>acc);
  }
}
