// Batch normalization over the rows of x [B, F] in training mode, fused:
// one kernel for the forward pass (batch statistics, normalization, affine)
// and one for the backward pass. Vectorized across features (4 columns at a
// time); sums run over rows in order. Scalar twin: src/reference/batchnorm.ts.
// Each kernel handles F features whose rows are ld elements apart, so the
// host can split the features of x [B, ld] over threads (a column's sums never
// cross a split: every split gives the same bits).

// mean[f], variance[f] (biased), invstd[f] = 1/sqrt(var + eps),
// xhat = (x - mean) * invstd, y = xhat * gamma + beta (gamma/beta 0 = none).
export function bn_forward_train(x: usize, y: usize, xhat: usize, mean: usize, variance: usize, invstd: usize,
                                 gamma: usize, beta: usize, B: i32, F: i32, ld: i32, eps: f32): void {
  const invB = <f32>1 / <f32>B;
  let f = 0;
  for (; f + 4 <= F; f += 4) {
    const col = <usize>f << 2;
    let s = f32x4.splat(0);
    for (let b = 0; b < B; b++) s = f32x4.add(s, v128.load(x + (<usize>(b * ld) << 2) + col));
    const m = f32x4.mul(s, f32x4.splat(invB));
    let q = f32x4.splat(0);
    for (let b = 0; b < B; b++) {
      const d = f32x4.sub(v128.load(x + (<usize>(b * ld) << 2) + col), m);
      q = f32x4.add(q, f32x4.mul(d, d));
    }
    const v = f32x4.mul(q, f32x4.splat(invB));
    const r = f32x4.div(f32x4.splat(1), f32x4.sqrt(f32x4.add(v, f32x4.splat(eps))));
    v128.store(mean + col, m);
    v128.store(variance + col, v);
    v128.store(invstd + col, r);
    const g = gamma ? v128.load(gamma + col) : f32x4.splat(1);
    const bt = beta ? v128.load(beta + col) : f32x4.splat(0);
    for (let b = 0; b < B; b++) {
      const o = (<usize>(b * ld) << 2) + col;
      const h = f32x4.mul(f32x4.sub(v128.load(x + o), m), r);
      v128.store(xhat + o, h);
      v128.store(y + o, f32x4.add(f32x4.mul(h, g), bt));
    }
  }
  for (; f < F; f++) {
    const col = <usize>f << 2;
    let s: f32 = 0;
    for (let b = 0; b < B; b++) s += load<f32>(x + (<usize>(b * ld) << 2) + col);
    const m = s * invB;
    let q: f32 = 0;
    for (let b = 0; b < B; b++) {
      const d = load<f32>(x + (<usize>(b * ld) << 2) + col) - m;
      q += d * d;
    }
    const v = q * invB;
    const r = <f32>1 / Mathf.sqrt(v + eps);
    store<f32>(mean + col, m);
    store<f32>(variance + col, v);
    store<f32>(invstd + col, r);
    const g: f32 = gamma ? load<f32>(gamma + col) : 1;
    const bt: f32 = beta ? load<f32>(beta + col) : 0;
    for (let b = 0; b < B; b++) {
      const o = (<usize>(b * ld) << 2) + col;
      const h = (load<f32>(x + o) - m) * r;
      store<f32>(xhat + o, h);
      store<f32>(y + o, h * g + bt);
    }
  }
}

// dbeta = Σ_b dy, dgamma = Σ_b dy·xhat,
// dx = (gamma·invstd / B) · (B·dy − dbeta − xhat·dgamma).
export function bn_backward_train(dy: usize, xhat: usize, invstd: usize, gamma: usize, dx: usize,
                                  dgamma: usize, dbeta: usize, B: i32, F: i32, ld: i32): void {
  const fB = <f32>B;
  const invB = <f32>1 / fB;
  let f = 0;
  for (; f + 4 <= F; f += 4) {
    const col = <usize>f << 2;
    let sb = f32x4.splat(0);
    let sg = f32x4.splat(0);
    for (let b = 0; b < B; b++) {
      const o = (<usize>(b * ld) << 2) + col;
      const g = v128.load(dy + o);
      sb = f32x4.add(sb, g);
      sg = f32x4.add(sg, f32x4.mul(g, v128.load(xhat + o)));
    }
    v128.store(dbeta + col, sb);
    v128.store(dgamma + col, sg);
    const gm = gamma ? v128.load(gamma + col) : f32x4.splat(1);
    const k = f32x4.mul(f32x4.mul(gm, v128.load(invstd + col)), f32x4.splat(invB));
    const vB = f32x4.splat(fB);
    for (let b = 0; b < B; b++) {
      const o = (<usize>(b * ld) << 2) + col;
      const t = f32x4.sub(f32x4.sub(f32x4.mul(vB, v128.load(dy + o)), sb), f32x4.mul(v128.load(xhat + o), sg));
      v128.store(dx + o, f32x4.mul(k, t));
    }
  }
  for (; f < F; f++) {
    const col = <usize>f << 2;
    let sb: f32 = 0;
    let sg: f32 = 0;
    for (let b = 0; b < B; b++) {
      const o = (<usize>(b * ld) << 2) + col;
      const g = load<f32>(dy + o);
      sb += g;
      sg += g * load<f32>(xhat + o);
    }
    store<f32>(dbeta + col, sb);
    store<f32>(dgamma + col, sg);
    const gm: f32 = gamma ? load<f32>(gamma + col) : 1;
    const k = gm * load<f32>(invstd + col) * invB;
    for (let b = 0; b < B; b++) {
      const o = (<usize>(b * ld) << 2) + col;
      store<f32>(dx + o, k * (fB * load<f32>(dy + o) - sb - load<f32>(xhat + o) * sg));
    }
  }
}

// Eval mode with the float32 operations, in order, of BatchNorm1d's eval
// forward: y = ((x - mean) / sqrt(var + eps)) * gamma + beta, each op rounded
// (gamma/beta 0 = none), so one call gives the bits of the op chain.
export function bn_forward_eval(x: usize, y: usize, mean: usize, variance: usize, gamma: usize, beta: usize,
                                B: i32, F: i32, ld: i32, eps: f32): void {
  let f = 0;
  for (; f + 4 <= F; f += 4) {
    const col = <usize>f << 2;
    const m = v128.load(mean + col);
    const s = f32x4.sqrt(f32x4.add(v128.load(variance + col), f32x4.splat(eps)));
    const g = gamma ? v128.load(gamma + col) : f32x4.splat(0);
    const bt = beta ? v128.load(beta + col) : f32x4.splat(0);
    for (let b = 0; b < B; b++) {
      const o = (<usize>(b * ld) << 2) + col;
      const h = f32x4.div(f32x4.sub(v128.load(x + o), m), s);
      v128.store(y + o, gamma ? f32x4.add(f32x4.mul(h, g), bt) : h);
    }
  }
  for (; f < F; f++) {
    const col = <usize>f << 2;
    const m = load<f32>(mean + col);
    const s = sqrt<f32>(load<f32>(variance + col) + eps);
    for (let b = 0; b < B; b++) {
      const o = (<usize>(b * ld) << 2) + col;
      const h = (load<f32>(x + o) - m) / s;
      store<f32>(y + o, gamma ? h * load<f32>(gamma + col) + load<f32>(beta + col) : h);
    }
  }
}
