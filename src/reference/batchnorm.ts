/**
 * Scalar twin of assembly/batchnorm.ts (training-mode batch norm over the rows
 * of x [B, F]), with the kernel's float32 operation order: sums over rows in
 * order, mean = sum · (1/B), biased variance, invstd = 1 / sqrt(var + eps).
 */
const f = Math.fround;

export function bnForwardTrainRef(x: Float32Array, B: number, F: number, eps: number, gamma: Float32Array | null, beta: Float32Array | null) {
  const y = new Float32Array(B * F);
  const xhat = new Float32Array(B * F);
  const mean = new Float32Array(F);
  const variance = new Float32Array(F);
  const invstd = new Float32Array(F);
  const invB = f(1 / B);
  for (let c = 0; c < F; c++) {
    let s = 0;
    for (let b = 0; b < B; b++) s = f(s + x[b * F + c]);
    const m = f(s * invB);
    let q = 0;
    for (let b = 0; b < B; b++) {
      const d = f(x[b * F + c] - m);
      q = f(q + f(d * d));
    }
    const v = f(q * invB);
    const r = f(1 / f(Math.sqrt(f(v + f(eps)))));
    mean[c] = m;
    variance[c] = v;
    invstd[c] = r;
    const g = gamma ? gamma[c] : 1;
    const bt = beta ? beta[c] : 0;
    for (let b = 0; b < B; b++) {
      const h = f(f(x[b * F + c] - m) * r);
      xhat[b * F + c] = h;
      y[b * F + c] = f(f(h * g) + bt);
    }
  }
  return { y, xhat, mean, variance, invstd };
}

export function bnBackwardTrainRef(dy: Float32Array, xhat: Float32Array, invstd: Float32Array, gamma: Float32Array | null, B: number, F: number) {
  const dx = new Float32Array(B * F);
  const dgamma = new Float32Array(F);
  const dbeta = new Float32Array(F);
  const invB = f(1 / B);
  for (let c = 0; c < F; c++) {
    let sb = 0;
    let sg = 0;
    for (let b = 0; b < B; b++) {
      sb = f(sb + dy[b * F + c]);
      sg = f(sg + f(dy[b * F + c] * xhat[b * F + c]));
    }
    dbeta[c] = sb;
    dgamma[c] = sg;
    const k = f(f((gamma ? gamma[c] : 1) * invstd[c]) * invB);
    for (let b = 0; b < B; b++) {
      dx[b * F + c] = f(k * f(f(f(B * dy[b * F + c]) - sb) - f(xhat[b * F + c] * sg)));
    }
  }
  return { dx, dgamma, dbeta };
}

/** Eval mode: ((x - mean) / sqrt(var + eps)) * gamma + beta, each float32 op rounded in this order. */
export function bnForwardEvalRef(x: Float32Array, B: number, F: number, mean: Float32Array, variance: Float32Array, eps: number,
                                 gamma: Float32Array | null, beta: Float32Array | null): Float32Array {
  const y = new Float32Array(B * F);
  for (let c = 0; c < F; c++) {
    const s = f(Math.sqrt(f(variance[c] + f(eps))));
    for (let b = 0; b < B; b++) {
      const h = f(f(x[b * F + c] - mean[c]) / s);
      y[b * F + c] = gamma && beta ? f(f(h * gamma[c]) + beta[c]) : h;
    }
  }
  return y;
}
