// Fused optimizer updates, in place over parameter, gradient and state
// buffers. Scalar twin: src/reference/optim.ts.

// Adam / AdamW:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²
//   p -= lr (m / bc1) / (sqrt(v / bc2) + eps)      bc1 = 1 - b1^t, bc2 = 1 - b2^t
// weight decay: decoupled (AdamW) p -= lr wd p first; otherwise g += wd p.
export function adam_update(p: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, b1: f32, b2: f32,
                            eps: f32, wd: f32, decoupled: i32, bc1: f32, bc2: f32): void {
  const c1 = <f32>1 - b1;
  const c2 = <f32>1 - b2;
  const inv1 = <f32>1 / bc1;
  const inv2 = <f32>1 / bc2;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    let w = load<f32>(p + o);
    let grad = load<f32>(g + o);
    if (wd != 0) {
      if (decoupled) w -= lr * wd * w;
      else grad += wd * w;
    }
    const mi = b1 * load<f32>(m + o) + c1 * grad;
    const vi = b2 * load<f32>(v + o) + c2 * grad * grad;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(p + o, w - lr * (mi * inv1) / (Mathf.sqrt(vi * inv2) + eps));
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
