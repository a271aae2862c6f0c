// f32 convolution helpers around the f32 GEMM (scalar twin: src/reference/conv.ts).
// Activations are NHWC, weights HWIO [kh, kw, Cin/groups, Cout]. The host
// runs a convolution as im2col (one row of kh·kw·cg values per output pixel)
// followed by the GEMM, and its input gradient as GEMM followed by col2im.
// Both kernels work on a range [r0, r1) of the flattened output pixels
// (n, oh, ow), so the host can bound the workspace by processing chunks of
// rows, and on a channel slice [c0, c0 + cg) of the input (one group).
//
// A window row (fixed kernel row i) touches input columns iw0 + j·dilationW;
// the in-image part is j in [j0, j1), the rest is padding. With dilation 1
// and all channels in one group, that part is one contiguous run of
// (j1 − j0)·C floats in NHWC, copied (or added) in one SIMD loop.

@inline function copyF32(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

@inline function zeroF32(dst: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), z);
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}

// dst += src, lane by lane (the same f32 add as the scalar loop, so order-free).
@inline function addF32(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = dst + (<usize>i << 2);
    v128.store(p, f32x4.add(v128.load(p), v128.load(src + (<usize>i << 2))));
  }
  for (; i < n; i++) {
    const p = dst + (<usize>i << 2);
    store<f32>(p, load<f32>(p) + load<f32>(src + (<usize>i << 2)));
  }
}

// First kernel column whose input column iw0 + j·d is >= 0 (no division for d = 1).
@inline function firstInside(iw0: i32, d: i32, kw: i32): i32 {
  if (iw0 >= 0) return 0;
  return min(kw, d == 1 ? -iw0 : (d - 1 - iw0) / d);
}

// One past the last kernel column whose input column is < W.
@inline function lastInside(iw0: i32, d: i32, kw: i32, W: i32): i32 {
  if (iw0 >= W) return 0;
  return min(kw, d == 1 ? W - iw0 : (W - 1 - iw0) / d + 1);
}

/**
 * cols[r − r0, (i·kw + j)·cg + c] = x[n, oh·sH − pT + i·dH, ow·sW − pL + j·dW, c0 + c]
 * (0 outside the image) for output pixels r = (n·outH + oh)·outW + ow in
 * [r0, r1). x is NHWC [*, H, W, C]; cols rows are kh·kw·cg floats, dense.
 */
export function conv_f32_im2col(x: usize, H: i32, W: i32, C: i32, c0: i32, cg: i32,
                                kh: i32, kw: i32, strideH: i32, strideW: i32, dilationH: i32, dilationW: i32,
                                padTop: i32, padLeft: i32, outH: i32, outW: i32,
                                r0: i32, r1: i32, cols: usize): void {
  if (r0 >= r1) return;
  const hw = outH * outW;
  const run = dilationW == 1 && cg == C;
  const rowLen = kw * cg;
  let dst = cols;
  // (n, oh, ow) of row r0, then stepped without divisions
  let n = r0 / hw;
  let oh = (r0 - n * hw) / outW;
  let ow = r0 - n * hw - oh * outW;
  for (let r = r0; r < r1; r++) {
    const ih0 = oh * strideH - padTop;
    const iw0 = ow * strideW - padLeft;
    const j0 = firstInside(iw0, dilationW, kw);
    const j1 = max(j0, lastInside(iw0, dilationW, kw, W));
    if (run && j0 == 0 && j1 == kw && ih0 >= 0 && ih0 + (kh - 1) * dilationH < H) {
      // the whole window is inside the image: kh runs of kw·C floats, no bounds to check
      let src = x + (<usize>(((n * H + ih0) * W + iw0) * C) << 2);
      const step = <usize>(dilationH * W * C) << 2;
      for (let i = 0; i < kh; i++) {
        copyF32(dst, src, rowLen);
        dst += <usize>rowLen << 2;
        src += step;
      }
    } else for (let i = 0; i < kh; i++) {
      const ih = ih0 + i * dilationH;
      if (ih < 0 || ih >= H) {
        zeroF32(dst, rowLen);
      } else {
        // the first in-image pixel of the window row (unused when j0 == j1)
        const src = x + (<usize>(((n * H + ih) * W + iw0 + j0 * dilationW) * C + c0) << 2);
        zeroF32(dst, j0 * cg);
        if (run) {
          copyF32(dst + (<usize>(j0 * cg) << 2), src, (j1 - j0) * cg);
        } else {
          for (let j = j0; j < j1; j++) {
            copyF32(dst + (<usize>(j * cg) << 2), src + (<usize>((j - j0) * dilationW * C) << 2), cg);
          }
        }
        zeroF32(dst + (<usize>(j1 * cg) << 2), (kw - j1) * cg);
      }
      dst += <usize>rowLen << 2;
    }
    if (++ow == outW) {
      ow = 0;
      if (++oh == outH) { oh = 0; n++; }
    }
  }
}

/**
 * The adjoint of conv_f32_im2col: dx[n, ih, iw, c0 + c] += cols[r − r0, (i·kw + j)·cg + c]
 * for every in-image position of output pixels r in [r0, r1), in ascending
 * r, then i, then j (the fixed order that makes the sums deterministic).
 * Padding positions are dropped.
 */
export function conv_f32_col2im(cols: usize, H: i32, W: i32, C: i32, c0: i32, cg: i32,
                                kh: i32, kw: i32, strideH: i32, strideW: i32, dilationH: i32, dilationW: i32,
                                padTop: i32, padLeft: i32, outH: i32, outW: i32,
                                r0: i32, r1: i32, dx: usize): void {
  if (r0 >= r1) return;
  const hw = outH * outW;
  const run = dilationW == 1 && cg == C;
  const rowLen = kw * cg;
  let src = cols;
  // (n, oh, ow) of row r0, then stepped without divisions
  let n = r0 / hw;
  let oh = (r0 - n * hw) / outW;
  let ow = r0 - n * hw - oh * outW;
  for (let r = r0; r < r1; r++) {
    const ih0 = oh * strideH - padTop;
    const iw0 = ow * strideW - padLeft;
    const j0 = firstInside(iw0, dilationW, kw);
    const j1 = max(j0, lastInside(iw0, dilationW, kw, W));
    if (run && j0 == 0 && j1 == kw && ih0 >= 0 && ih0 + (kh - 1) * dilationH < H) {
      // the whole window is inside the image: kh runs of kw·C floats, in the same order
      let dst = dx + (<usize>(((n * H + ih0) * W + iw0) * C) << 2);
      const step = <usize>(dilationH * W * C) << 2;
      for (let i = 0; i < kh; i++) {
        addF32(dst, src, rowLen);
        src += <usize>rowLen << 2;
        dst += step;
      }
    } else for (let i = 0; i < kh; i++) {
      const ih = ih0 + i * dilationH;
      if (ih >= 0 && ih < H) {
        const dst = dx + (<usize>(((n * H + ih) * W + iw0 + j0 * dilationW) * C + c0) << 2);
        if (run) {
          addF32(dst, src + (<usize>(j0 * cg) << 2), (j1 - j0) * cg);
        } else {
          for (let j = j0; j < j1; j++) {
            addF32(dst + (<usize>((j - j0) * dilationW * C) << 2), src + (<usize>(j * cg) << 2), cg);
          }
        }
      }
      src += <usize>rowLen << 2;
    }
    if (++ow == outW) {
      ow = 0;
      if (++oh == outH) { oh = 0; n++; }
    }
  }
}

// ---- depthwise (groups = C, m = Cout / C output channels per input channel) ----
//
// Output channel o = c·m + q reads input channel c; w is [kh, kw, 1, C·m].
// These kernels give the bits of the im2col + GEMM path for windows of at
// most 256 taps and m <= 256 (one GEMM k-block): every sum runs in the same
// order, padding taps included as products with 0.

// ind[t] = address of the input pixel under tap t of output pixel (n, oh, ow), or `outside`.
@inline function tapAddresses(base: usize, H: i32, W: i32, C: i32, kh: i32, kw: i32, strideH: i32, strideW: i32,
                              dilationH: i32, dilationW: i32, padTop: i32, padLeft: i32,
                              n: i32, oh: i32, ow: i32, outside: usize, ind: usize): void {
  const ih0 = oh * strideH - padTop, iw0 = ow * strideW - padLeft;
  for (let i = 0; i < kh; i++) {
    const ih = ih0 + i * dilationH;
    for (let j = 0; j < kw; j++) {
      const iw = iw0 + j * dilationW;
      const inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
      store<u32>(ind + (<usize>(i * kw + j) << 2), inside ? <u32>(base + (<usize>(((n * H + ih) * W + iw) * C) << 2)) : <u32>outside);
    }
  }
}

// Tap address of a padding position in the input gradient (no pixel: never a real, aligned address).
// @ts-ignore: decorator
@inline const PADDING: usize = 0xffffffff;

@inline function alignUp16(p: usize): usize {
  return (p + 15) & ~(<usize>15);
}

/** Workspace bytes of the depthwise kernels: a zero pixel, the tap addresses and (weight gradient) the k-block sums. */
export function conv_f32_dw_workspace_bytes(C: i32, m: i32, kh: i32, kw: i32): i32 {
  return C * 4 + kh * kw * 4 + 16 + kh * kw * C * m * 4 + 16;
}

/** y[r, o] = Σ_t x[tap t of r, o / m]·w[t, o] for output pixels r in [r0, r1). */
export function conv_f32_dw__simd(x: usize, H: i32, W: i32, C: i32, m: i32,
                                  kh: i32, kw: i32, strideH: i32, strideW: i32, dilationH: i32, dilationW: i32,
                                  padTop: i32, padLeft: i32, outH: i32, outW: i32,
                                  r0: i32, r1: i32, w: usize, y: usize, work: usize): void {
  if (r0 >= r1) return;
  const zero = work;
  zeroF32(zero, C);
  const ind = zero + (<usize>C << 2);
  const taps = kh * kw;
  const Cout = C * m;
  const ldw = <usize>Cout << 2;
  const hw = outH * outW;
  let n = r0 / hw;
  let oh = (r0 - n * hw) / outW;
  let ow = r0 - n * hw - oh * outW;
  for (let r = r0; r < r1; r++) {
    tapAddresses(x, H, W, C, kh, kw, strideH, strideW, dilationH, dilationW, padTop, padLeft, n, oh, ow, zero, ind);
    const yr = y + (<usize>r * <usize>Cout << 2);
    if (m == 1) {
      let c = 0;
      for (; c + 8 <= C; c += 8) {
        const off = <usize>c << 2;
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
        let wp = w + off;
        for (let t = 0; t < taps; t++) {
          const xp = <usize>load<u32>(ind + (<usize>t << 2)) + off;
          a0 = f32x4.add(a0, f32x4.mul(v128.load(xp), v128.load(wp)));
          a1 = f32x4.add(a1, f32x4.mul(v128.load(xp, 16), v128.load(wp, 16)));
          wp += ldw;
        }
        v128.store(yr + off, a0);
        v128.store(yr + off, a1, 16);
      }
      for (; c + 4 <= C; c += 4) {
        const off = <usize>c << 2;
        let a0 = f32x4.splat(0);
        let wp = w + off;
        for (let t = 0; t < taps; t++) {
          a0 = f32x4.add(a0, f32x4.mul(v128.load(<usize>load<u32>(ind + (<usize>t << 2)) + off), v128.load(wp)));
          wp += ldw;
        }
        v128.store(yr + off, a0);
      }
      for (; c < C; c++) {
        const off = <usize>c << 2;
        let a: f32 = 0;
        let wp = w + off;
        for (let t = 0; t < taps; t++) {
          a += load<f32>(<usize>load<u32>(ind + (<usize>t << 2)) + off) * load<f32>(wp);
          wp += ldw;
        }
        store<f32>(yr + off, a);
      }
    } else {
      for (let o = 0; o < Cout; o++) {
        const xoff = <usize>(o / m) << 2;
        let a: f32 = 0;
        let wp = w + (<usize>o << 2);
        for (let t = 0; t < taps; t++) {
          a += load<f32>(<usize>load<u32>(ind + (<usize>t << 2)) + xoff) * load<f32>(wp);
          wp += ldw;
        }
        store<f32>(yr + (<usize>o << 2), a);
      }
    }
    if (++ow == outW) {
      ow = 0;
      if (++oh == outH) { oh = 0; n++; }
    }
  }
}

/**
 * dx[tap t of r, c] += Σ_q dy[r, c·m + q]·w[t, c·m + q] (the sum from +0 over
 * q) for output pixels r in [r0, r1) ascending, then taps ascending; padding
 * taps are dropped. dx must hold its previous sums (zeros at first).
 */
export function conv_f32_dw_backward_input__simd(dy: usize, H: i32, W: i32, C: i32, m: i32,
                                                 kh: i32, kw: i32, strideH: i32, strideW: i32, dilationH: i32, dilationW: i32,
                                                 padTop: i32, padLeft: i32, outH: i32, outW: i32,
                                                 r0: i32, r1: i32, w: usize, dx: usize, work: usize): void {
  if (r0 >= r1) return;
  const ind = work;
  const taps = kh * kw;
  const Cout = C * m;
  const hw = outH * outW;
  let n = r0 / hw;
  let oh = (r0 - n * hw) / outW;
  let ow = r0 - n * hw - oh * outW;
  for (let r = r0; r < r1; r++) {
    tapAddresses(dx, H, W, C, kh, kw, strideH, strideW, dilationH, dilationW, padTop, padLeft, n, oh, ow, PADDING, ind);
    const dyr = dy + (<usize>r * <usize>Cout << 2);
    for (let t = 0; t < taps; t++) {
      const dst = <usize>load<u32>(ind + (<usize>t << 2));
      if (dst == PADDING) continue;
      const wt = w + (<usize>t * <usize>Cout << 2);
      if (m == 1) {
        let c = 0;
        for (; c + 4 <= C; c += 4) {
          const off = <usize>c << 2;
          v128.store(dst + off, f32x4.add(v128.load(dst + off), f32x4.mul(v128.load(dyr + off), v128.load(wt + off))));
        }
        for (; c < C; c++) {
          const off = <usize>c << 2;
          store<f32>(dst + off, load<f32>(dst + off) + load<f32>(dyr + off) * load<f32>(wt + off));
        }
      } else {
        for (let c = 0; c < C; c++) {
          let s: f32 = 0;
          for (let q = 0; q < m; q++) {
            const off = <usize>(c * m + q) << 2;
            s += load<f32>(dyr + off) * load<f32>(wt + off);
          }
          const p = dst + (<usize>c << 2);
          store<f32>(p, load<f32>(p) + s);
        }
      }
    }
    if (++ow == outW) {
      ow = 0;
      if (++oh == outH) { oh = 0; n++; }
    }
  }
}

/**
 * dw[t, o] = Σ_r x[tap t of r, o / m]·dy[r, o] over all `rows` output pixels,
 * summed as the GEMM path sums it: chunks of `chunk` rows, within a chunk
 * blocks of 256 rows each summed from +0, the block sums added to dw in
 * order (the first one stored). rows >= 1; dw is overwritten.
 */
export function conv_f32_dw_backward_filter__simd(x: usize, H: i32, W: i32, C: i32, m: i32,
                                                  kh: i32, kw: i32, strideH: i32, strideW: i32, dilationH: i32, dilationW: i32,
                                                  padTop: i32, padLeft: i32, outH: i32, outW: i32,
                                                  rows: i32, chunk: i32, dy: usize, dw: usize, work: usize): void {
  if (rows <= 0) return;
  const zero = work;
  zeroF32(zero, C);
  const ind = zero + (<usize>C << 2);
  const taps = kh * kw;
  const Cout = C * m;
  const sums = alignUp16(ind + (<usize>taps << 2));
  const total = taps * Cout;
  let n = 0, oh = 0, ow = 0;
  let first = true;
  for (let c0 = 0; c0 < rows; c0 += chunk) {
    const c1 = min(rows, c0 + chunk);
    for (let b0 = c0; b0 < c1; b0 += 256) {
      const b1 = min(c1, b0 + 256);
      zeroF32(sums, total);
      for (let r = b0; r < b1; r++) {
        tapAddresses(x, H, W, C, kh, kw, strideH, strideW, dilationH, dilationW, padTop, padLeft, n, oh, ow, zero, ind);
        const dyr = dy + (<usize>r * <usize>Cout << 2);
        for (let t = 0; t < taps; t++) {
          const src = <usize>load<u32>(ind + (<usize>t << 2));
          const st = sums + (<usize>t * <usize>Cout << 2);
          if (m == 1) {
            let c = 0;
            for (; c + 4 <= C; c += 4) {
              const off = <usize>c << 2;
              v128.store(st + off, f32x4.add(v128.load(st + off), f32x4.mul(v128.load(src + off), v128.load(dyr + off))));
            }
            for (; c < C; c++) {
              const off = <usize>c << 2;
              store<f32>(st + off, load<f32>(st + off) + load<f32>(src + off) * load<f32>(dyr + off));
            }
          } else {
            for (let o = 0; o < Cout; o++) {
              const off = <usize>o << 2;
              store<f32>(st + off, load<f32>(st + off) + load<f32>(src + (<usize>(o / m) << 2)) * load<f32>(dyr + off));
            }
          }
        }
        if (++ow == outW) {
          ow = 0;
          if (++oh == outH) { oh = 0; n++; }
        }
      }
      if (first) copyF32(dw, sums, total);
      else addF32(dw, sums, total);
      first = false;
    }
  }
}

// ---- direct convolution for small windows (groups = 1, K = kh·kw·C taps of few channels) ----
//
// im2col + GEMM spends most of its time copying and packing when K is small
// (a 3x3 window over 1-4 input channels). This kernel reads each output
// pixel's window where it lies: for every tap and input channel it splats the
// input value and multiply-adds it into accumulators spanning the output
// channels. Each output is summed from +0 over k = (i·kw + j)·C + c
// ascending, a product then an add, padding taps read as products with 0:
// the GEMM's order within one k-block, so for K <= 256 the bits are the
// im2col + GEMM path's.

/** Workspace bytes of conv_f32_direct__simd: a zero pixel, the tap addresses of 4 pixels and the taps' offsets. */
export function conv_f32_direct_workspace_bytes(C: i32, kh: i32, kw: i32): i32 {
  return C * 4 + 5 * kh * kw * 4;
}

// One output pixel, channels [0, Cout) of w (rows ldw bytes apart) into yr; xs holds its tap addresses.
@inline function directPixel(xs: usize, taps: i32, C: i32, Cout: i32, ldw: usize, w: usize, yr: usize): void {
  let o = 0;
  for (; o + 8 <= Cout; o += 8) {
    const off = <usize>o << 2;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
    let wp = w + off;
    for (let t = 0; t < taps; t++) {
      const xp = <usize>load<u32>(xs + (<usize>t << 2));
      for (let c = 0; c < C; c++) {
        const v = v128.load32_splat(xp + (<usize>c << 2));
        a0 = f32x4.add(a0, f32x4.mul(v, v128.load(wp)));
        a1 = f32x4.add(a1, f32x4.mul(v, v128.load(wp, 16)));
        wp += ldw;
      }
    }
    v128.store(yr + off, a0);
    v128.store(yr + off, a1, 16);
  }
  for (; o + 4 <= Cout; o += 4) {
    const off = <usize>o << 2;
    let a0 = f32x4.splat(0);
    let wp = w + off;
    for (let t = 0; t < taps; t++) {
      const xp = <usize>load<u32>(xs + (<usize>t << 2));
      for (let c = 0; c < C; c++) {
        a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(xp + (<usize>c << 2)), v128.load(wp)));
        wp += ldw;
      }
    }
    v128.store(yr + off, a0);
  }
  for (; o < Cout; o++) {
    const off = <usize>o << 2;
    let a: f32 = 0;
    let wp = w + off;
    for (let t = 0; t < taps; t++) {
      const xp = <usize>load<u32>(xs + (<usize>t << 2));
      for (let c = 0; c < C; c++) {
        a += load<f32>(xp + (<usize>c << 2)) * load<f32>(wp);
        wp += ldw;
      }
    }
    store<f32>(yr + off, a);
  }
}

// Four adjacent output pixels of a one-channel, unit-stride conv, windows inside the image at corner; Cout % 8 == 0.
@inline function directQuadC1(corner: usize, offs: usize, taps: i32, Cout: i32, ldw: usize, w: usize, yr: usize): void {
  for (let o = 0; o < Cout; o += 8) {
    const off = <usize>o << 2;
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    let wp = w + off;
    for (let t = 0; t < taps; t++) {
      const v = v128.load(corner + <usize>load<u32>(offs + (<usize>t << 2)));
      const b0 = v128.load(wp), b1 = v128.load(wp, 16);
      const a0 = i32x4.shuffle(v, v, 0, 0, 0, 0);
      c00 = f32x4.add(c00, f32x4.mul(a0, b0));
      c01 = f32x4.add(c01, f32x4.mul(a0, b1));
      const a1 = i32x4.shuffle(v, v, 1, 1, 1, 1);
      c10 = f32x4.add(c10, f32x4.mul(a1, b0));
      c11 = f32x4.add(c11, f32x4.mul(a1, b1));
      const a2 = i32x4.shuffle(v, v, 2, 2, 2, 2);
      c20 = f32x4.add(c20, f32x4.mul(a2, b0));
      c21 = f32x4.add(c21, f32x4.mul(a2, b1));
      const a3 = i32x4.shuffle(v, v, 3, 3, 3, 3);
      c30 = f32x4.add(c30, f32x4.mul(a3, b0));
      c31 = f32x4.add(c31, f32x4.mul(a3, b1));
      wp += ldw;
    }
    let p = yr + off;
    v128.store(p, c00); v128.store(p, c01, 16);
    p += ldw;
    v128.store(p, c10); v128.store(p, c11, 16);
    p += ldw;
    v128.store(p, c20); v128.store(p, c21, 16);
    p += ldw;
    v128.store(p, c30); v128.store(p, c31, 16);
  }
}

/**
 * y[r, o] = Σ_{t, c} x[tap t of r, c]·w[t·C + c, o] for output pixels r in
 * [r0, r1); w is HWIO [kh, kw, C, Cout]. Register tile: 4 pixels x 8
 * channels (the GEMM microkernel's 4x8, its A rows read through the tap
 * addresses instead of an im2col copy); leftover pixels one at a time. One
 * input channel at unit stride reads the 4 pixels under a tap as one vector.
 */
export function conv_f32_direct__simd(x: usize, H: i32, W: i32, C: i32, Cout: i32,
                                      kh: i32, kw: i32, strideH: i32, strideW: i32, dilationH: i32, dilationW: i32,
                                      padTop: i32, padLeft: i32, outH: i32, outW: i32,
                                      r0: i32, r1: i32, w: usize, y: usize, work: usize): void {
  if (r0 >= r1) return;
  const zero = work;
  zeroF32(zero, C);
  const taps = kh * kw;
  const i0 = zero + (<usize>C << 2);
  const tb = <usize>taps << 2;
  const i1 = i0 + tb, i2 = i1 + tb, i3 = i2 + tb;
  // byte offset of each tap from its window's corner pixel (windows inside the image)
  const offs = i3 + tb;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) store<u32>(offs + (<usize>(i * kw + j) << 2), <u32>((i * dilationH * W + j * dilationW) * C) << 2);
  }
  const pixelStep = <usize>(strideW * C) << 2;
  const lastH = (kh - 1) * dilationH, lastW = (kw - 1) * dilationW;
  const ldw = <usize>Cout << 2;
  const hw = outH * outW;
  let n = r0 / hw;
  let oh = (r0 - n * hw) / outW;
  let ow = r0 - n * hw - oh * outW;
  let r = r0;
  for (; r < r1; ) {
    const quad = r + 4 <= r1;
    const ih0 = oh * strideH - padTop, iw0 = ow * strideW - padLeft;
    if (quad && ow + 3 < outW && ih0 >= 0 && ih0 + lastH < H && iw0 >= 0 && iw0 + 3 * strideW + lastW < W) {
      // four windows of one output row, all inside the image: corner + offset
      const corner = x + (<usize>(((n * H + ih0) * W + iw0) * C) << 2);
      if (C == 1 && strideW == 1 && (Cout & 7) == 0) {
        // one channel, unit stride: the four pixels under a tap are adjacent, one load and four lane splats
        directQuadC1(corner, offs, taps, Cout, ldw, w, y + (<usize>r * <usize>Cout << 2));
        r += 4;
        ow += 4;
        if (ow == outW) {
          ow = 0;
          if (++oh == outH) { oh = 0; n++; }
        }
        continue;
      }
      for (let t = 0; t < taps; t++) {
        const to = <usize>t << 2;
        const a = corner + <usize>load<u32>(offs + to);
        store<u32>(i0 + to, <u32>a);
        store<u32>(i1 + to, <u32>(a + pixelStep));
        store<u32>(i2 + to, <u32>(a + 2 * pixelStep));
        store<u32>(i3 + to, <u32>(a + 3 * pixelStep));
      }
      ow += 4;
      if (ow == outW) {
        ow = 0;
        if (++oh == outH) { oh = 0; n++; }
      }
    } else {
      const count = quad ? 4 : 1;
      for (let p = 0; p < count; p++) {
        tapAddresses(x, H, W, C, kh, kw, strideH, strideW, dilationH, dilationW, padTop, padLeft, n, oh, ow, zero, i0 + <usize>p * tb);
        if (++ow == outW) {
          ow = 0;
          if (++oh == outH) { oh = 0; n++; }
        }
      }
    }
    const yr = y + (<usize>r * <usize>Cout << 2);
    if (!quad) {
      directPixel(i0, taps, C, Cout, ldw, w, yr);
      r++;
      continue;
    }
    let o = 0;
    for (; o + 8 <= Cout; o += 8) {
      const off = <usize>o << 2;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let wp = w + off;
      for (let t = 0; t < taps; t++) {
        const to = <usize>t << 2;
        const x0 = <usize>load<u32>(i0 + to), x1 = <usize>load<u32>(i1 + to), x2 = <usize>load<u32>(i2 + to), x3 = <usize>load<u32>(i3 + to);
        for (let c = 0; c < C; c++) {
          const co = <usize>c << 2;
          const b0 = v128.load(wp), b1 = v128.load(wp, 16);
          const a0 = v128.load32_splat(x0 + co);
          c00 = f32x4.add(c00, f32x4.mul(a0, b0));
          c01 = f32x4.add(c01, f32x4.mul(a0, b1));
          const a1 = v128.load32_splat(x1 + co);
          c10 = f32x4.add(c10, f32x4.mul(a1, b0));
          c11 = f32x4.add(c11, f32x4.mul(a1, b1));
          const a2 = v128.load32_splat(x2 + co);
          c20 = f32x4.add(c20, f32x4.mul(a2, b0));
          c21 = f32x4.add(c21, f32x4.mul(a2, b1));
          const a3 = v128.load32_splat(x3 + co);
          c30 = f32x4.add(c30, f32x4.mul(a3, b0));
          c31 = f32x4.add(c31, f32x4.mul(a3, b1));
          wp += ldw;
        }
      }
      let p = yr + off;
      v128.store(p, c00); v128.store(p, c01, 16);
      p += ldw;
      v128.store(p, c10); v128.store(p, c11, 16);
      p += ldw;
      v128.store(p, c20); v128.store(p, c21, 16);
      p += ldw;
      v128.store(p, c30); v128.store(p, c31, 16);
    }
    if (o < Cout) {
      // channel tail: each pixel on its own over the last Cout - o channels
      for (let p = 0; p < 4; p++) directPixel(i0 + <usize>p * tb, taps, C, Cout - o, ldw, w + (<usize>o << 2), yr + <usize>p * ldw + (<usize>o << 2));
    }
    r += 4;
  }
}
