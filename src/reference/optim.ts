/**
 * Scalar twin of assembly/optim.ts: the specification of the fused optimizer
 * updates and the oracle their tests compare against. Every operation is
 * rounded to float32 with Math.fround in the kernel's order (the SIMD body and
 * the scalar tail of the kernel group the operations identically), so the
 * kernel must match this bit for bit. Scalars arrive as float32, as they do
 * through the wasm f32 parameters.
 */
const f = Math.fround;

/**
 * Adam / AdamW in place over p, m, v (g is read only), in PyTorch's order:
 *   w = p·shrink;  grad = g + l2·p
 *   m = b1·m + c1·grad;  v = b2·v + (c2·grad)·grad
 *   p = w − (stepSize·m) / (sqrt(v) / bc2Sqrt + eps)
 * The coefficients are the kernel's arguments (see adamCoefficients in
 * src/nn/optim.ts): each arrives rounded once to float32.
 */
export function adamUpdateRef(
  p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  b1: number, c1: number, b2: number, c2: number, stepSize: number, bc2Sqrt: number, eps: number, shrink: number, l2: number,
  lo = -Infinity, hi = Infinity,
): void {
  const lo32 = f(lo), hi32 = f(hi);
  const b132 = f(b1), c132 = f(c1), b232 = f(b2), c232 = f(c2);
  const step32 = f(stepSize), bc232 = f(bc2Sqrt), eps32 = f(eps), shrink32 = f(shrink), l232 = f(l2);
  for (let i = 0; i < p.length; i++) {
    const w = f(p[i] * shrink32);
    const grad = f(g[i] + f(l232 * p[i]));
    const mi = f(f(b132 * m[i]) + f(c132 * grad));
    const vi = f(f(b232 * v[i]) + f(f(c232 * grad) * grad));
    m[i] = mi;
    v[i] = vi;
    const denom = f(f(f(Math.sqrt(vi)) / bc232) + eps32);
    const r = f(w - f(f(step32 * mi) / denom));
    p[i] = r < lo32 ? lo32 : r > hi32 ? hi32 : r;
  }
}

/**
 * Bop in place over w (±1) and m (g is read only):
 *   m = (1 − gamma)·m + gamma·g;  w = −w where |m| > threshold and sign(m) == sign(w).
 * Returns the number of flipped weights.
 */
export function bopUpdateRef(w: Float32Array, g: Float32Array, m: Float32Array, gamma: number, threshold: number): number {
  const gamma32 = f(gamma);
  const threshold32 = f(threshold);
  const keep = f(1 - gamma32);
  let flips = 0;
  for (let i = 0; i < w.length; i++) {
    const mi = f(f(keep * m[i]) + f(gamma32 * g[i]));
    m[i] = mi;
    const wi = w[i];
    if (Math.abs(mi) > threshold32 && ((mi > 0 && wi > 0) || (mi < 0 && wi < 0))) {
      w[i] = -wi;
      flips++;
    }
  }
  return flips;
}
