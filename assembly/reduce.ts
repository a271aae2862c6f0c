// Reductions over one axis of a tensor viewed as [outer, n, inner], and the
// row-wise softmax family. Scalar twin: src/reference/reduce.ts.

// y[o, i] = sum_k x[o, k, i]
export function f32_sum_axis(x: usize, y: usize, outer: i32, n: i32, inner: i32): void {
  if (inner == 1) {
    for (let o = 0; o < outer; o++) {
      const row = x + (<usize>(o * n) << 2);
      let acc = f32x4.splat(0);
      let k = 0;
      for (; k + 4 <= n; k += 4) acc = f32x4.add(acc, v128.load(row + (<usize>k << 2)));
      let s = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) +
              (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
      for (; k < n; k++) s += load<f32>(row + (<usize>k << 2));
      store<f32>(y + (<usize>o << 2), s);
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    const dst = y + (<usize>(o * inner) << 2);
    const src = x + (<usize>(o * n * inner) << 2);
    let i = 0;
    for (; i + 4 <= inner; i += 4) {
      let acc = f32x4.splat(0);
      for (let k = 0; k < n; k++) acc = f32x4.add(acc, v128.load(src + (<usize>(k * inner + i) << 2)));
      v128.store(dst + (<usize>i << 2), acc);
    }
    for (; i < inner; i++) {
      let s: f32 = 0;
      for (let k = 0; k < n; k++) s += load<f32>(src + (<usize>(k * inner + i) << 2));
      store<f32>(dst + (<usize>i << 2), s);
    }
  }
}

// y[o, i] = max_k x[o, k, i]; idx gets the first k attaining it. NaN never
// wins a comparison, so a row of NaNs reports index 0.
export function f32_max_axis(x: usize, y: usize, idx: usize, outer: i32, n: i32, inner: i32): void {
  for (let o = 0; o < outer; o++) {
    const src = x + (<usize>(o * n * inner) << 2);
    for (let i = 0; i < inner; i++) {
      let best = load<f32>(src + (<usize>i << 2));
      let bestK = 0;
      for (let k = 1; k < n; k++) {
        const v = load<f32>(src + (<usize>(k * inner + i) << 2));
        if (v > best || (best != best && v == v)) { best = v; bestK = k; }
      }
      store<f32>(y + (<usize>(o * inner + i) << 2), best);
      store<i32>(idx + (<usize>(o * inner + i) << 2), bestK);
    }
  }
}

// y[o, i] = min_k x[o, k, i]; idx gets the first k attaining it. The mirror
// of f32_max_axis (its own loop, not max of -x: negation would flip the sign
// of a zero tie winner). NaN never wins; f32_max_axis_backward routes dy.
export function f32_min_axis(x: usize, y: usize, idx: usize, outer: i32, n: i32, inner: i32): void {
  for (let o = 0; o < outer; o++) {
    const src = x + (<usize>(o * n * inner) << 2);
    for (let i = 0; i < inner; i++) {
      let best = load<f32>(src + (<usize>i << 2));
      let bestK = 0;
      for (let k = 1; k < n; k++) {
        const v = load<f32>(src + (<usize>(k * inner + i) << 2));
        if (v < best || (best != best && v == v)) { best = v; bestK = k; }
      }
      store<f32>(y + (<usize>(o * inner + i) << 2), best);
      store<i32>(idx + (<usize>(o * inner + i) << 2), bestK);
    }
  }
}

// dx[o, k, i] = (k == idx[o, i]) ? dy[o, i] : 0   (dx must be zeroed by the caller)
export function f32_max_axis_backward(dy: usize, idx: usize, dx: usize, outer: i32, n: i32, inner: i32): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const j = o * inner + i;
      const k = load<i32>(idx + (<usize>j << 2));
      store<f32>(dx + (<usize>((o * n + k) * inner + i) << 2), load<f32>(dy + (<usize>j << 2)));
    }
  }
}

// Row-wise softmax (log = 0) or log-softmax (log = 1), max-shifted.
export function f32_softmax_rows(x: usize, y: usize, rows: i32, n: i32, log: i32): void {
  for (let r = 0; r < rows; r++) {
    const src = x + (<usize>(r * n) << 2);
    const dst = y + (<usize>(r * n) << 2);
    let m = load<f32>(src);
    for (let k = 1; k < n; k++) m = max(m, load<f32>(src + (<usize>k << 2)));
    let s: f32 = 0;
    for (let k = 0; k < n; k++) {
      const e = Mathf.exp(load<f32>(src + (<usize>k << 2)) - m);
      s += e;
      if (!log) store<f32>(dst + (<usize>k << 2), e);
    }
    if (log) {
      const lse = m + Mathf.log(s);
      for (let k = 0; k < n; k++) store<f32>(dst + (<usize>k << 2), load<f32>(src + (<usize>k << 2)) - lse);
    } else {
      const inv = <f32>1 / s;
      for (let k = 0; k < n; k++) store<f32>(dst + (<usize>k << 2), load<f32>(dst + (<usize>k << 2)) * inv);
    }
  }
}

// softmax:     dx = y * (dy - sum(dy * y))
// log-softmax: dx = dy - exp(y) * sum(dy)
export function f32_softmax_rows_backward(y: usize, dy: usize, dx: usize, rows: i32, n: i32, log: i32): void {
  for (let r = 0; r < rows; r++) {
    const yr = y + (<usize>(r * n) << 2);
    const gr = dy + (<usize>(r * n) << 2);
    const xr = dx + (<usize>(r * n) << 2);
    let s: f32 = 0;
    if (log) {
      for (let k = 0; k < n; k++) s += load<f32>(gr + (<usize>k << 2));
      for (let k = 0; k < n; k++) {
        const o = <usize>k << 2;
        store<f32>(xr + o, load<f32>(gr + o) - Mathf.exp(load<f32>(yr + o)) * s);
      }
    } else {
      for (let k = 0; k < n; k++) s += load<f32>(gr + (<usize>k << 2)) * load<f32>(yr + (<usize>k << 2));
      for (let k = 0; k < n; k++) {
        const o = <usize>k << 2;
        store<f32>(xr + o, load<f32>(yr + o) * (load<f32>(gr + o) - s));
      }
    }
  }
}

// out[r] = x[r, labels[r]] (labels are range-checked by the host).
export function f32_pick_rows(x: usize, labels: usize, out: usize, rows: i32, n: i32): void {
  for (let r = 0; r < rows; r++) {
    const l = load<i32>(labels + (<usize>r << 2));
    store<f32>(out + (<usize>r << 2), load<f32>(x + (<usize>(r * n + l) << 2)));
  }
}

// dx[r, labels[r]] += dy[r] (dx zeroed by the caller).
export function f32_pick_rows_backward(dy: usize, labels: usize, dx: usize, rows: i32, n: i32): void {
  for (let r = 0; r < rows; r++) {
    const l = load<i32>(labels + (<usize>r << 2));
    const o = <usize>(r * n + l) << 2;
    store<f32>(dx + o, load<f32>(dx + o) + load<f32>(dy + (<usize>r << 2)));
  }
}

// Index of the first element outside [lo, hi), or -1.
export function i32_find_out_of_range(x: usize, n: i32, lo: i32, hi: i32): i32 {
  for (let i = 0; i < n; i++) {
    const v = load<i32>(x + (<usize>i << 2));
    if (v < lo || v >= hi) return i;
  }
  return -1;
}

// y[r] = log(sum_k exp(x[r, k])) as m + log(sum_k exp(x[r, k] - m)), m the row
// maximum: the same arithmetic as f32_softmax_rows' log-softmax shift. A row
// whose maximum is infinite gives that maximum (an all -inf row is -inf, not
// the NaN of -inf - -inf); an empty row gives -inf.
export function f32_logsumexp_rows(x: usize, y: usize, rows: i32, n: i32): void {
  for (let r = 0; r < rows; r++) {
    const src = x + (<usize>(r * n) << 2);
    let m: f32 = -Infinity;
    if (n > 0) m = load<f32>(src);
    for (let k = 1; k < n; k++) m = max(m, load<f32>(src + (<usize>k << 2)));
    if (m == Infinity || m == -Infinity) { store<f32>(y + (<usize>r << 2), m); continue; }
    let s: f32 = 0;
    for (let k = 0; k < n; k++) s += Mathf.exp(load<f32>(src + (<usize>k << 2)) - m);
    store<f32>(y + (<usize>r << 2), m + Mathf.log(s));
  }
}

// dx[r, k] = dy[r] * softmax(x[r])_k, max-shifted as in f32_softmax_rows
// (exp(x - lse) would round to 1 where lse rounds to the largest x, e.g.
// [1e30, 1e30]); 0 for a row whose maximum is -inf (all -inf: no gradient).
export function f32_logsumexp_rows_backward(x: usize, dy: usize, dx: usize, rows: i32, n: i32): void {
  for (let r = 0; r < rows; r++) {
    const src = x + (<usize>(r * n) << 2);
    const dst = dx + (<usize>(r * n) << 2);
    let m: f32 = -Infinity;
    if (n > 0) m = load<f32>(src);
    for (let k = 1; k < n; k++) m = max(m, load<f32>(src + (<usize>k << 2)));
    if (m == -Infinity) {
      for (let k = 0; k < n; k++) store<f32>(dst + (<usize>k << 2), 0);
      continue;
    }
    let s: f32 = 0;
    for (let k = 0; k < n; k++) {
      const e = Mathf.exp(load<f32>(src + (<usize>k << 2)) - m);
      s += e;
      store<f32>(dst + (<usize>k << 2), e);
    }
    const g = load<f32>(dy + (<usize>r << 2)) / s;
    for (let k = 0; k < n; k++) store<f32>(dst + (<usize>k << 2), load<f32>(dst + (<usize>k << 2)) * g);
  }
}
