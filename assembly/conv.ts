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
    for (let i = 0; i < kh; i++) {
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
    for (let i = 0; i < kh; i++) {
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
