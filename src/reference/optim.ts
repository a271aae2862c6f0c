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
 * Adam / AdamW in place over p, m, v (g is read only):
 *   w = p·shrink;  grad = g + l2·p
 *   m = b1·m + (1 − b1)·grad;  v = b2·v + ((1 − b2)·grad)·grad
 *   p = w − (lr·(m·(1/bc1))) / (sqrt(v·(1/bc2)) + eps)
 * with shrink = 1 − lr·wd, l2 = 0 when decoupled, else shrink = 1, l2 = wd.
 */
export function adamUpdateRef(
  p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  lr: number, b1: number, b2: number, eps: number, wd: number, decoupled: boolean, bc1: number, bc2: number,
  lo = -Infinity, hi = Infinity,
): void {
  const lo32 = f(lo), hi32 = f(hi);
  const lr32 = f(lr), b132 = f(b1), b232 = f(b2), eps32 = f(eps), wd32 = f(wd);
  const c1 = f(1 - b132);
  const c2 = f(1 - b232);
  const inv1 = f(1 / f(bc1));
  const inv2 = f(1 / f(bc2));
  const shrink = decoupled ? f(1 - f(lr32 * wd32)) : 1;
  const l2 = decoupled ? 0 : wd32;
  for (let i = 0; i < p.length; i++) {
    const w = f(p[i] * shrink);
    const grad = f(g[i] + f(l2 * p[i]));
    const mi = f(f(b132 * m[i]) + f(c1 * grad));
    const vi = f(f(b232 * v[i]) + f(f(c2 * grad) * grad));
    m[i] = mi;
    v[i] = vi;
    const step = f(f(lr32 * f(mi * inv1)) / f(f(Math.sqrt(f(vi * inv2))) + eps32));
    const r = f(w - step);
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
