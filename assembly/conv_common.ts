// Shared pieces of the convolution drivers (conv_b1.ts, conv_int.ts); not
// exported from the module itself.
//
// Geometry block: i32[GEO_SIZE] at `geo`, written by the host from
// src/ops/conv-geometry.ts (windowGeometry), so the kernels never derive
// padding or output sizes themselves. Activations are NHWC; one pixel is
// GEO_PIXEL elements of the input (packed words for bits, bytes for u8/s8).

export const GEO_N: i32 = 0;
export const GEO_H: i32 = 1;
export const GEO_W: i32 = 2;
export const GEO_C: i32 = 3;          // real input channels (bits or bytes per tap)
export const GEO_KH: i32 = 4;
export const GEO_KW: i32 = 5;
export const GEO_SH: i32 = 6;
export const GEO_SW: i32 = 7;
export const GEO_DH: i32 = 8;
export const GEO_DW: i32 = 9;
export const GEO_PT: i32 = 10;
export const GEO_PL: i32 = 11;
export const GEO_OH: i32 = 12;
export const GEO_OW: i32 = 13;
export const GEO_PIXEL: i32 = 14;     // elements per input pixel (Cw words or C bytes)
export const GEO_SIZE: i32 = 16;

@inline export function geoAt(geo: usize, i: i32): i32 {
  return load<i32>(geo + (<usize>i << 2));
}

/** Copies `bytes` bytes (small runs: one im2col tap or a few contiguous taps). */
@inline export function copyBytes(dst: usize, src: usize, bytes: usize): void {
  while (bytes >= 16) {
    v128.store(dst, v128.load(src));
    dst += 16; src += 16; bytes -= 16;
  }
  while (bytes >= 4) {
    store<u32>(dst, load<u32>(src));
    dst += 4; src += 4; bytes -= 4;
  }
  while (bytes > 0) {
    store<u8>(dst, load<u8>(src));
    dst++; src++; bytes--;
  }
}

/** Fills `bytes` bytes with the byte `v`. */
@inline export function fillBytes(dst: usize, v: i32, bytes: usize): void {
  const vv = i8x16.splat(<i8>v);
  const w = <u32>(v & 255) * 0x01010101;
  while (bytes >= 16) {
    v128.store(dst, vv);
    dst += 16; bytes -= 16;
  }
  while (bytes >= 4) {
    store<u32>(dst, w);
    dst += 4; bytes -= 4;
  }
  while (bytes > 0) {
    store<u8>(dst, <u8>v);
    dst++; bytes--;
  }
}

/**
 * im2col over pixels of `elem` bytes: rows [row0, row1) of the patch matrix
 * (row m = output pixel (n, oy, ox) in NHWC order; a row is the kh·kw taps in
 * (ky, kx) order, each one input pixel of GEO_PIXEL elements) to out, rows
 * rowBytes apart (row r - row0 at out + (r - row0)·rowBytes). Taps outside the
 * input are filled with the byte `fill`; bytes past the kh·kw taps up to
 * rowBytes are 0.
 */
export function im2colBytes(geo: usize, x: usize, elem: i32, fill: i32, row0: i32, row1: i32, out: usize, rowBytes: usize): void {
  if (row1 <= row0) return;
  const H = geoAt(geo, GEO_H), W = geoAt(geo, GEO_W);
  const kh = geoAt(geo, GEO_KH), kw = geoAt(geo, GEO_KW);
  const sH = geoAt(geo, GEO_SH), sW = geoAt(geo, GEO_SW);
  const dH = geoAt(geo, GEO_DH), dW = geoAt(geo, GEO_DW);
  const pT = geoAt(geo, GEO_PT), pL = geoAt(geo, GEO_PL);
  const oH = geoAt(geo, GEO_OH), oW = geoAt(geo, GEO_OW);
  const pix = <usize>geoAt(geo, GEO_PIXEL) * <usize>elem;
  const used = <usize>kh * <usize>kw * pix;
  const rowTap = <usize>kw * pix;
  // Output pixel counters advance with the row instead of dividing per row.
  let ox = row0 % oW;
  let t = row0 / oW;
  let oy = t % oH;
  let n = t / oH;
  for (let r = row0; r < row1; r++) {
    const dst = out + <usize>(r - row0) * rowBytes;
    const ix0 = ox * sW - pL;
    // Valid kx form one run [kxLo, kxHi): ix = ix0 + kx·dW must lie in [0, W).
    let kxLo = ix0 >= 0 ? 0 : (-ix0 + dW - 1) / dW;
    let kxHi = ix0 >= W ? 0 : min(kw, (W - 1 - ix0) / dW + 1);
    if (kxLo > kxHi) kxLo = kxHi;
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * sH - pT + ky * dH;
      const tap = dst + <usize>ky * rowTap;
      if (iy < 0 || iy >= H || kxHi <= kxLo) {
        fillBytes(tap, fill, rowTap);
        continue;
      }
      if (kxLo > 0) fillBytes(tap, fill, <usize>kxLo * pix);
      const src = x + ((<usize>n * <usize>H + <usize>iy) * <usize>W + <usize>(ix0 + kxLo * dW)) * pix;
      if (dW == 1) {
        copyBytes(tap + <usize>kxLo * pix, src, <usize>(kxHi - kxLo) * pix);
      } else {
        for (let kx = kxLo; kx < kxHi; kx++) copyBytes(tap + <usize>kx * pix, src + <usize>((kx - kxLo) * dW) * pix, pix);
      }
      if (kxHi < kw) fillBytes(tap + <usize>kxHi * pix, fill, <usize>(kw - kxHi) * pix);
    }
    if (rowBytes > used) fillBytes(dst + used, 0, rowBytes - used);
    if (++ox == oW) {
      ox = 0;
      if (++oy == oH) { oy = 0; n++; }
    }
  }
}

// Output transforms over an int32 tile of dot products (rows of Cout, ld apart).
export const OUT_I32: i32 = 0;
export const OUT_F32: i32 = 1;
export const OUT_BITS: i32 = 2;

/**
 * Finishes rows [0, rows) of an int32 tile (tile rows Cout apart) whose first
 * row is patch row `row0`: adds the zero-padding correction of border pixels
 * (pad != 0: see conv_b1.ts), then writes at out (row r at out + r·Cout·4 for
 * OUT_I32/OUT_F32, which may be the tile itself; out + r·ceil(Cout/32)·4 for OUT_BITS):
 *   OUT_I32  dot;  OUT_F32  f32(f32(dot)·scale[co]) + bias[co] (two roundings, no FMA);
 *   OUT_BITS bit co = 1 (-1) when dir[co] > 0 ? dot < thr[co] : dot > thr[co].
 */
export function finishTile(mode: i32, geo: usize, tile: usize, rows: i32, row0: i32, Cout: i32, out: usize,
                           pad: usize, scale: usize, bias: usize, thr: usize, dir: usize): void {
  const oH = geoAt(geo, GEO_OH), oW = geoAt(geo, GEO_OW);
  const ldt = <usize>Cout << 2;
  if (pad != 0) {
    // pad block: rowClass i32[oH], colClass i32[oW], then nRC, nCC, interior rc, interior cc, then the table.
    const rowClass = pad, colClass = pad + (<usize>oH << 2);
    const hdr = colClass + (<usize>oW << 2);
    const nCC = load<i32>(hdr, 4), rIn = load<i32>(hdr, 8), cIn = load<i32>(hdr, 12);
    const table = hdr + 16;
    let ox = row0 % oW;
    let oy = (row0 / oW) % oH;
    for (let r = 0; r < rows; r++) {
      const rc = load<i32>(rowClass + (<usize>oy << 2)), cc = load<i32>(colClass + (<usize>ox << 2));
      if (rc != rIn || cc != cIn) {
        const corr = table + <usize>(rc * nCC + cc) * ldt;
        const t = tile + <usize>r * ldt;
        let co = 0;
        for (; co + 4 <= Cout; co += 4) {
          const o = <usize>co << 2;
          v128.store(t + o, i32x4.add(v128.load(t + o), v128.load(corr + o)));
        }
        for (; co < Cout; co++) {
          const o = <usize>co << 2;
          store<i32>(t + o, load<i32>(t + o) + load<i32>(corr + o));
        }
      }
      if (++ox == oW) {
        ox = 0;
        if (++oy == oH) oy = 0;
      }
    }
  }
  if (mode == OUT_I32) {
    if (out != tile) copyBytes(out, tile, <usize>rows * ldt);
    return;
  }
  if (mode == OUT_F32) {
    for (let r = 0; r < rows; r++) {
      const t = tile + <usize>r * ldt, y = out + <usize>r * ldt;
      let co = 0;
      for (; co + 4 <= Cout; co += 4) {
        const o = <usize>co << 2;
        const d = f32x4.convert_i32x4_s(v128.load(t + o));
        v128.store(y + o, f32x4.add(f32x4.mul(d, v128.load(scale + o)), v128.load(bias + o)));
      }
      for (; co < Cout; co++) {
        const o = <usize>co << 2;
        store<f32>(y + o, <f32>load<i32>(t + o) * load<f32>(scale + o) + load<f32>(bias + o));
      }
    }
    return;
  }
  const words = (Cout + 31) >> 5;
  for (let r = 0; r < rows; r++) {
    const t = tile + <usize>r * ldt;
    const dst = out + (<usize>r * <usize>words << 2);
    for (let wd = 0; wd < words; wd++) {
      const c0 = wd << 5;
      const c1 = min(Cout, c0 + 32);
      let bits: u32 = 0;
      let co = c0;
      for (; co + 4 <= c1; co += 4) {
        const o = <usize>co << 2;
        const v = v128.load(t + o), th = v128.load(thr + o);
        const up = i32x4.gt_s(v128.load(dir + o), i32x4.splat(0));
        const neg = v128.bitselect(i32x4.lt_s(v, th), i32x4.gt_s(v, th), up);
        bits |= <u32>i32x4.bitmask(neg) << <u32>(co - c0);
      }
      for (; co < c1; co++) {
        const o = <usize>co << 2;
        const v = load<i32>(t + o), th = load<i32>(thr + o);
        if (load<i32>(dir + o) > 0 ? v < th : v > th) bits |= <u32>1 << <u32>(co - c0);
      }
      store<u32>(dst + (<usize>wd << 2), bits);
    }
  }
}
