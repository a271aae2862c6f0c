// Fused optimizer updates, in place over parameter, gradient and state
// buffers. Scalar twin: src/reference/optim.ts.

// Adam / AdamW, in the order of PyTorch's torch.optim.Adam (1.13, _single_tensor_adam):
//   w = p shrink;  grad = g + l2 p
//   m = b1 m + c1 grad;  v = b2 v + (c2 grad) grad
//   p = w - (stepSize m) / (sqrt(v) / bc2Sqrt + eps)
// The host derives every coefficient in float64 and rounds each once to float32:
// c1 = 1 - b1, c2 = 1 - b2 (from the float64 betas: 1 - f32(0.99999) is off by
// 1.4e-3 relative), stepSize = lr / (1 - b1^t), bc2Sqrt = sqrt(1 - b2^t), and
// shrink = 1 - lr wd, l2 = 0 for decoupled decay (AdamW), shrink = 1, l2 = wd otherwise.
// The new p is clamped to [lo, hi] (the latent-weight constraint; ±Inf for none)
// in the same pass, as p < lo ? lo : p > hi ? hi : p.
export function adam_update(p: usize, g: usize, m: usize, v: usize, n: i32, b1: f32, c1: f32, b2: f32, c2: f32,
                            stepSize: f32, bc2Sqrt: f32, eps: f32, shrink: f32, l2: f32, lo: f32, hi: f32): void {
  const vb1 = f32x4.splat(b1), vc1 = f32x4.splat(c1), vb2 = f32x4.splat(b2), vc2 = f32x4.splat(c2);
  const vstep = f32x4.splat(stepSize), vbc2 = f32x4.splat(bc2Sqrt), veps = f32x4.splat(eps);
  const vshrink = f32x4.splat(shrink), vl2 = f32x4.splat(l2);
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const w = f32x4.mul(v128.load(p + o), vshrink);
    const grad = f32x4.add(v128.load(g + o), f32x4.mul(vl2, v128.load(p + o)));
    const mi = f32x4.add(f32x4.mul(vb1, v128.load(m + o)), f32x4.mul(vc1, grad));
    const vi = f32x4.add(f32x4.mul(vb2, v128.load(v + o)), f32x4.mul(f32x4.mul(vc2, grad), grad));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(vi), vbc2), veps);
    const r = f32x4.sub(w, f32x4.div(f32x4.mul(vstep, mi), denom));
    const clamped = v128.bitselect(vlo, r, f32x4.lt(r, vlo));
    v128.store(p + o, v128.bitselect(vhi, clamped, f32x4.gt(r, vhi)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const w = load<f32>(p + o) * shrink;
    const grad = load<f32>(g + o) + l2 * load<f32>(p + o);
    const mi = b1 * load<f32>(m + o) + c1 * grad;
    const vi = b2 * load<f32>(v + o) + c2 * grad * grad;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const r = w - (stepSize * mi) / (Mathf.sqrt(vi) / bc2Sqrt + eps);
    store<f32>(p + o, r < lo ? lo : (r > hi ? hi : r));
  }
}

// Bop (Helwegen et al. 2019) on ±1 weights w:
//   m = (1 - gamma) m + gamma g;  flip w where |m| > threshold and sign(m) == sign(w).
// Returns the number of flipped weights.
export function bop_update(w: usize, g: usize, m: usize, n: i32, gamma: f32, threshold: f32): i32 {
  const keep = <f32>1 - gamma;
  let flips = 0;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const mi = keep * load<f32>(m + o) + gamma * load<f32>(g + o);
    store<f32>(m + o, mi);
    const wi = load<f32>(w + o);
    if (Mathf.abs(mi) > threshold && ((mi > 0 && wi > 0) || (mi < 0 && wi < 0))) {
      store<f32>(w + o, -wi);
      flips++;
    }
  }
  return flips;
}
