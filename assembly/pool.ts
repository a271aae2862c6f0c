// 2-D pooling over NHWC images x [N, H, W, C] (channels contiguous), forward
// and backward. Vectorized along C, 4 channels at a time, with scalar tails.
// Geometry (window kh x kw, stride sh x sw, padding top/left; output outH x
// outW) comes from the host (src/ops/conv-geometry.ts). Padded cells are
// never read: a window covers the valid cells rows [h0, h1) x cols [w0, w1),
// visited in row-major order; the host guarantees each window has one.
// Scalar twin: src/reference/pool.ts.

// @ts-ignore: decorator
@inline
function lo(o: i32, stride: i32, pad: i32): i32 {
  return max(o * stride - pad, 0);
}

// @ts-ignore: decorator
@inline
function hi(o: i32, stride: i32, pad: i32, k: i32, size: i32): i32 {
  return min(o * stride - pad + k, size);
}

// Lanes where v replaces the running maximum: greater, or best is NaN and v is not.
// @ts-ignore: decorator
@inline
function wins(v: v128, best: v128): v128 {
  return v128.or(f32x4.gt(v, best), v128.and(f32x4.ne(best, best), f32x4.eq(v, v)));
}

// y[n, oy, ox, c] = max over the window's valid cells; idx (when not 0)
// gets the cell h * W + w of the first maximum in row-major window order.
// NaN never wins (as f32_max_axis): a NaN is kept only when every cell is NaN.
export function f32_maxpool2d(x: usize, y: usize, idx: usize, N: i32, H: i32, W: i32, C: i32,
                              kh: i32, kw: i32, sh: i32, sw: i32, padT: i32, padL: i32, outH: i32, outW: i32): void {
  for (let n = 0; n < N; n++) {
    const img = x + (<usize>(n * H * W * C) << 2);
    for (let oy = 0; oy < outH; oy++) {
      const h0 = lo(oy, sh, padT);
      const h1 = hi(oy, sh, padT, kh, H);
      for (let ox = 0; ox < outW; ox++) {
        const w0 = lo(ox, sw, padL);
        const w1 = hi(ox, sw, padL, kw, W);
        const o = (<usize>(((n * outH + oy) * outW + ox) * C)) << 2;
        const first = h0 * W + w0;
        let c = 0;
        // 16 channels per walk over the window (4 vectors in registers), then 4, then one:
        // the window loop's overhead is shared, and each element still sees the cells in order.
        for (; c + 16 <= C; c += 16) {
          const col = <usize>c << 2;
          const p0 = img + (<usize>(first * C) << 2) + col;
          let b0 = v128.load(p0), b1 = v128.load(p0, 16), b2 = v128.load(p0, 32), b3 = v128.load(p0, 48);
          let i0 = i32x4.splat(first), i1 = i0, i2 = i0, i3 = i0;
          for (let h = h0; h < h1; h++) {
            for (let w = h == h0 ? w0 + 1 : w0; w < w1; w++) {
              const cell = h * W + w;
              const p = img + (<usize>(cell * C) << 2) + col;
              const ci = i32x4.splat(cell);
              const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
              const m0 = wins(v0, b0), m1 = wins(v1, b1), m2 = wins(v2, b2), m3 = wins(v3, b3);
              b0 = v128.bitselect(v0, b0, m0); i0 = v128.bitselect(ci, i0, m0);
              b1 = v128.bitselect(v1, b1, m1); i1 = v128.bitselect(ci, i1, m1);
              b2 = v128.bitselect(v2, b2, m2); i2 = v128.bitselect(ci, i2, m2);
              b3 = v128.bitselect(v3, b3, m3); i3 = v128.bitselect(ci, i3, m3);
            }
          }
          const q = y + o + col;
          v128.store(q, b0); v128.store(q, b1, 16); v128.store(q, b2, 32); v128.store(q, b3, 48);
          if (idx) {
            const r = idx + o + col;
            v128.store(r, i0); v128.store(r, i1, 16); v128.store(r, i2, 32); v128.store(r, i3, 48);
          }
        }
        for (; c + 4 <= C; c += 4) {
          const col = <usize>c << 2;
          let best = v128.load(img + (<usize>(first * C) << 2) + col);
          let bestI = i32x4.splat(first);
          for (let h = h0; h < h1; h++) {
            for (let w = h == h0 ? w0 + 1 : w0; w < w1; w++) {
              const cell = h * W + w;
              const v = v128.load(img + (<usize>(cell * C) << 2) + col);
              const take = wins(v, best);
              best = v128.bitselect(v, best, take);
              bestI = v128.bitselect(i32x4.splat(cell), bestI, take);
            }
          }
          v128.store(y + o + col, best);
          if (idx) v128.store(idx + o + col, bestI);
        }
        for (; c < C; c++) {
          const col = <usize>c << 2;
          let best = load<f32>(img + (<usize>(first * C) << 2) + col);
          let bestI = first;
          for (let h = h0; h < h1; h++) {
            for (let w = h == h0 ? w0 + 1 : w0; w < w1; w++) {
              const cell = h * W + w;
              const v = load<f32>(img + (<usize>(cell * C) << 2) + col);
              if (v > best || (best != best && v == v)) { best = v; bestI = cell; }
            }
          }
          store<f32>(y + o + col, best);
          if (idx) store<i32>(idx + o + col, bestI);
        }
      }
    }
  }
}

// dx = 0, then dx[n, idx, c] += dy[n, p, c] for every output position p in
// order (overlapping windows accumulate). Scatter by index: no vector form.
export function f32_maxpool2d_backward(dy: usize, idx: usize, dx: usize, N: i32, HW: i32, outHW: i32, C: i32): void {
  memory.fill(dx, 0, <usize>(N * HW * C) << 2);
  for (let n = 0; n < N; n++) {
    const img = dx + (<usize>(n * HW * C) << 2);
    for (let p = 0; p < outHW; p++) {
      const o = (<usize>((n * outHW + p) * C)) << 2;
      for (let c = 0; c < C; c++) {
        const col = <usize>c << 2;
        const at = img + (<usize>(load<i32>(idx + o + col) * C) << 2) + col;
        store<f32>(at, load<f32>(at) + load<f32>(dy + o + col));
      }
    }
  }
}

// y[n, oy, ox, c] = (sum of the window's valid cells, in row-major order) / count
// of valid cells: padding is not counted (TF/Keras semantics).
export function f32_avgpool2d(x: usize, y: usize, N: i32, H: i32, W: i32, C: i32,
                              kh: i32, kw: i32, sh: i32, sw: i32, padT: i32, padL: i32, outH: i32, outW: i32): void {
  for (let n = 0; n < N; n++) {
    const img = x + (<usize>(n * H * W * C) << 2);
    for (let oy = 0; oy < outH; oy++) {
      const h0 = lo(oy, sh, padT);
      const h1 = hi(oy, sh, padT, kh, H);
      for (let ox = 0; ox < outW; ox++) {
        const w0 = lo(ox, sw, padL);
        const w1 = hi(ox, sw, padL, kw, W);
        const count = <f32>((h1 - h0) * (w1 - w0));
        const o = (<usize>(((n * outH + oy) * outW + ox) * C)) << 2;
        const vc = f32x4.splat(count);
        let c = 0;
        for (; c + 16 <= C; c += 16) {
          const col = <usize>c << 2;
          let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
          for (let h = h0; h < h1; h++) {
            for (let w = w0; w < w1; w++) {
              const p = img + (<usize>((h * W + w) * C) << 2) + col;
              s0 = f32x4.add(s0, v128.load(p));
              s1 = f32x4.add(s1, v128.load(p, 16));
              s2 = f32x4.add(s2, v128.load(p, 32));
              s3 = f32x4.add(s3, v128.load(p, 48));
            }
          }
          const q = y + o + col;
          v128.store(q, f32x4.div(s0, vc)); v128.store(q, f32x4.div(s1, vc), 16);
          v128.store(q, f32x4.div(s2, vc), 32); v128.store(q, f32x4.div(s3, vc), 48);
        }
        for (; c + 4 <= C; c += 4) {
          const col = <usize>c << 2;
          let s = f32x4.splat(0);
          for (let h = h0; h < h1; h++) {
            for (let w = w0; w < w1; w++) s = f32x4.add(s, v128.load(img + (<usize>((h * W + w) * C) << 2) + col));
          }
          v128.store(y + o + col, f32x4.div(s, vc));
        }
        for (; c < C; c++) {
          const col = <usize>c << 2;
          let s: f32 = 0;
          for (let h = h0; h < h1; h++) {
            for (let w = w0; w < w1; w++) s += load<f32>(img + (<usize>((h * W + w) * C) << 2) + col);
          }
          store<f32>(y + o + col, s / count);
        }
      }
    }
  }
}

// dx = 0, then for every output position in order, dy / count is added to
// each valid cell of its window (overlapping windows accumulate).
export function f32_avgpool2d_backward(dy: usize, dx: usize, N: i32, H: i32, W: i32, C: i32,
                                       kh: i32, kw: i32, sh: i32, sw: i32, padT: i32, padL: i32, outH: i32, outW: i32): void {
  memory.fill(dx, 0, <usize>(N * H * W * C) << 2);
  for (let n = 0; n < N; n++) {
    const img = dx + (<usize>(n * H * W * C) << 2);
    for (let oy = 0; oy < outH; oy++) {
      const h0 = lo(oy, sh, padT);
      const h1 = hi(oy, sh, padT, kh, H);
      for (let ox = 0; ox < outW; ox++) {
        const w0 = lo(ox, sw, padL);
        const w1 = hi(ox, sw, padL, kw, W);
        const count = <f32>((h1 - h0) * (w1 - w0));
        const o = (<usize>(((n * outH + oy) * outW + ox) * C)) << 2;
        const vc = f32x4.splat(count);
        let c = 0;
        for (; c + 16 <= C; c += 16) {
          const col = <usize>c << 2;
          const d = dy + o + col;
          const g0 = f32x4.div(v128.load(d), vc), g1 = f32x4.div(v128.load(d, 16), vc);
          const g2 = f32x4.div(v128.load(d, 32), vc), g3 = f32x4.div(v128.load(d, 48), vc);
          for (let h = h0; h < h1; h++) {
            for (let w = w0; w < w1; w++) {
              const at = img + (<usize>((h * W + w) * C) << 2) + col;
              v128.store(at, f32x4.add(v128.load(at), g0));
              v128.store(at, f32x4.add(v128.load(at, 16), g1), 16);
              v128.store(at, f32x4.add(v128.load(at, 32), g2), 32);
              v128.store(at, f32x4.add(v128.load(at, 48), g3), 48);
            }
          }
        }
        for (; c + 4 <= C; c += 4) {
          const col = <usize>c << 2;
          const g = f32x4.div(v128.load(dy + o + col), vc);
          for (let h = h0; h < h1; h++) {
            for (let w = w0; w < w1; w++) {
              const at = img + (<usize>((h * W + w) * C) << 2) + col;
              v128.store(at, f32x4.add(v128.load(at), g));
            }
          }
        }
        for (; c < C; c++) {
          const col = <usize>c << 2;
          const g = load<f32>(dy + o + col) / count;
          for (let h = h0; h < h1; h++) {
            for (let w = w0; w < w1; w++) {
              const at = img + (<usize>((h * W + w) * C) << 2) + col;
              store<f32>(at, load<f32>(at) + g);
            }
          }
        }
      }
    }
  }
}
