/**
 * Scalar twin of assembly/reduce.ts. Tensors are viewed as [outer, n, inner]
 * (reductions) or [rows, n] (softmax family). float32 arithmetic throughout,
 * each operation rounded with Math.fround; exp/log come from the engine's Math
 * (the kernel uses AssemblyScript's Mathf, so those results agree to a few ulps).
 */

const f = Math.fround;

/**
 * y[o, i] = sum_k x[o, k, i], in the kernel's exact order so results match
 * bit for bit:
 * - inner == 1: four running sums take k = 0,4,8,... / 1,5,9,... / ... over
 *   the first floor(n/4)*4 elements, are combined as (s0 + s1) + (s2 + s3),
 *   then the remaining k are added one by one;
 * - inner > 1: for each i, 0 + x[o,0,i] + x[o,1,i] + ... in k order.
 */
export function f32SumAxisRef(x: Float32Array, y: Float32Array, outer: number, n: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    if (inner === 1) {
      const base = o * n;
      const lanes = [0, 0, 0, 0];
      let k = 0;
      for (; k + 4 <= n; k += 4) {
        for (let l = 0; l < 4; l++) lanes[l] = f(lanes[l] + x[base + k + l]);
      }
      let s = f(f(lanes[0] + lanes[1]) + f(lanes[2] + lanes[3]));
      for (; k < n; k++) s = f(s + x[base + k]);
      y[o] = s;
      continue;
    }
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s = f(s + x[(o * n + k) * inner + i]);
      y[o * inner + i] = s;
    }
  }
}

/**
 * y[o, i] = max_k x[o, k, i] and idx[o, i] = the first k attaining it.
 * NaN never wins: NaNs are skipped, and a row that is all NaN gives NaN with
 * index 0. n must be >= 1.
 */
export function f32MaxAxisRef(x: Float32Array, y: Float32Array, idx: Int32Array, outer: number, n: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = NaN;
      let bestK = 0;
      for (let k = 0; k < n; k++) {
        const v = x[(o * n + k) * inner + i];
        if (v > best || (best !== best && v === v)) {
          best = v;
          bestK = k;
        }
      }
      y[o * inner + i] = best;
      idx[o * inner + i] = bestK;
    }
  }
}

/** The mirror of f32MaxAxisRef: y = min along the axis, idx its first index; NaN never wins. */
export function f32MinAxisRef(x: Float32Array, y: Float32Array, idx: Int32Array, outer: number, n: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = NaN;
      let bestK = 0;
      for (let k = 0; k < n; k++) {
        const v = x[(o * n + k) * inner + i];
        if (v < best || (best !== best && v === v)) {
          best = v;
          bestK = k;
        }
      }
      y[o * inner + i] = best;
      idx[o * inner + i] = bestK;
    }
  }
}

/** dx[o, idx[o,i], i] = dy[o, i]; every other element of dx is left untouched (callers zero it). */
export function f32MaxAxisBackwardRef(dy: Float32Array, idx: Int32Array, dx: Float32Array, outer: number, n: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const j = o * inner + i;
      dx[(o * n + idx[j]) * inner + i] = dy[j];
    }
  }
}

/**
 * Row-wise softmax (log = false) or log-softmax (log = true), shifted by the
 * row maximum m so large logits do not overflow:
 *   e_k = exp(x_k - m), s = e_0 + e_1 + ... (in order),
 *   softmax y_k = e_k * (1/s), log-softmax y_k = x_k - (m + log s).
 * The maximum propagates NaN, so a row holding NaN becomes all NaN.
 */
export function f32SoftmaxRowsRef(x: Float32Array, y: Float32Array, rows: number, n: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let m = x[base];
    for (let k = 1; k < n; k++) m = Math.max(m, x[base + k]);
    let s = 0;
    for (let k = 0; k < n; k++) {
      const e = f(Math.exp(f(x[base + k] - m)));
      s = f(s + e);
      if (!log) y[base + k] = e;
    }
    if (log) {
      const lse = f(m + f(Math.log(s)));
      for (let k = 0; k < n; k++) y[base + k] = f(x[base + k] - lse);
    } else {
      const inv = f(1 / s);
      for (let k = 0; k < n; k++) y[base + k] = f(y[base + k] * inv);
    }
  }
}

/**
 * Gradient of the row-wise softmax family given its output y:
 *   softmax:     s = sum_k dy_k*y_k (in order), dx = y * (dy - s)
 *   log-softmax: s = sum_k dy_k (in order),     dx = dy - exp(y) * s
 */
export function f32SoftmaxRowsBackwardRef(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, n: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let s = 0;
    if (log) {
      for (let k = 0; k < n; k++) s = f(s + dy[base + k]);
      for (let k = 0; k < n; k++) dx[base + k] = f(dy[base + k] - f(f(Math.exp(y[base + k])) * s));
    } else {
      for (let k = 0; k < n; k++) s = f(s + f(dy[base + k] * y[base + k]));
      for (let k = 0; k < n; k++) dx[base + k] = f(y[base + k] * f(dy[base + k] - s));
    }
  }
}

/** out[r] = x[r, labels[r]] (labels must lie in [0, n)). */
export function f32PickRowsRef(x: Float32Array, labels: Int32Array, out: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) out[r] = x[r * n + labels[r]];
}

/** dx[r, labels[r]] += dy[r]. */
export function f32PickRowsBackwardRef(dy: Float32Array, labels: Int32Array, dx: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n + labels[r];
    dx[o] = f(dx[o] + dy[r]);
  }
}

/** Index of the first element outside [lo, hi), or -1. */
export function i32FindOutOfRangeRef(x: Int32Array, lo: number, hi: number): number {
  for (let i = 0; i < x.length; i++) if (x[i] < lo || x[i] >= hi) return i;
  return -1;
}

/**
 * y[r] = m + log(e_0 + e_1 + ...) with e_k = exp(x[r,k] - m) in float32, m the
 * row maximum (NaN-propagating). An infinite m is the answer itself; an empty
 * row gives -inf.
 */
export function f32LogsumexpRowsRef(x: Float32Array, y: Float32Array, rows: number, n: number): void {
  const f = Math.fround;
  for (let r = 0; r < rows; r++) {
    let m = n > 0 ? x[r * n] : -Infinity;
    for (let k = 1; k < n; k++) {
      const v = x[r * n + k];
      m = m !== m || v !== v ? NaN : Math.max(m, v);
    }
    if (m === Infinity || m === -Infinity) {
      y[r] = m;
      continue;
    }
    let s = 0;
    for (let k = 0; k < n; k++) s = f(s + f(Math.exp(f(x[r * n + k] - m))));
    y[r] = f(m + f(Math.log(s)));
  }
}

/** dx[r, k] = e_k * (dy[r] / s) with e_k = exp(x[r,k] - m), s = e_0 + e_1 + ..., m the row maximum; 0 where m is -inf. */
export function f32LogsumexpRowsBackwardRef(x: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, n: number): void {
  const f = Math.fround;
  for (let r = 0; r < rows; r++) {
    let m = n > 0 ? x[r * n] : -Infinity;
    for (let k = 1; k < n; k++) m = Math.max(m, x[r * n + k]);
    if (m === -Infinity) {
      dx.fill(0, r * n, (r + 1) * n);
      continue;
    }
    let s = 0;
    for (let k = 0; k < n; k++) {
      dx[r * n + k] = f(Math.exp(f(x[r * n + k] - m)));
      s = f(s + dx[r * n + k]);
    }
    const g = f(dy[r] / s);
    for (let k = 0; k < n; k++) dx[r * n + k] = f(dx[r * n + k] * g);
  }
}
