// Data movement: strided copies (transpose, slice, broadcast, pad), row and axis
// gathers with their scatter-adds, top-k, one-hot and bincount.
// Scalar twin: src/reference/shape.ts.

import { outerOffset } from "./strided";

// dst <- src over an index space of shape dims, each side read or written
// through its own element strides (transpose, slice, broadcast, concat).
// elemBytes is 1 or 4.
export function copy_strided(src: usize, srcStrides: usize, dst: usize, dstStrides: usize,
                             elemBytes: i32, ndim: i32, dims: usize): void {
  const last = ndim - 1;
  const n = load<i32>(dims + (<usize>last << 2));
  const ss = load<i32>(srcStrides + (<usize>last << 2));
  const ds = load<i32>(dstStrides + (<usize>last << 2));
  let rows = 1;
  for (let d = 0; d < last; d++) rows *= load<i32>(dims + (<usize>d << 2));
  if (n == 0) return;
  for (let r = 0; r < rows; r++) {
    const so = outerOffset(r, last, dims, srcStrides);
    const dO = outerOffset(r, last, dims, dstStrides);
    if (ss == 1 && ds == 1) {
      memory.copy(dst + <usize>(dO * elemBytes), src + <usize>(so * elemBytes), <usize>(n * elemBytes));
    } else if (elemBytes == 4) {
      for (let i = 0; i < n; i++) {
        store<u32>(dst + (<usize>(dO + i * ds) << 2), load<u32>(src + (<usize>(so + i * ss) << 2)));
      }
    } else {
      for (let i = 0; i < n; i++) store<u8>(dst + <usize>(dO + i * ds), load<u8>(src + <usize>(so + i * ss)));
    }
  }
}

// 2-D transpose of 4-byte elements, in 8x8 blocks to stay in cache.
export function transpose_32(src: usize, dst: usize, rows: i32, cols: i32): void {
  const B = 8;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = min(r0 + B, rows);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = min(c0 + B, cols);
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) {
          store<u32>(dst + (<usize>(c * rows + r) << 2), load<u32>(src + (<usize>(r * cols + c) << 2)));
        }
      }
    }
  }
}

// dst[i, :] = src[idx[i], :] for rows of rowBytes bytes (indices range-checked by the host).
export function gather_rows(src: usize, idx: usize, dst: usize, count: i32, rowBytes: i32): void {
  for (let i = 0; i < count; i++) {
    const j = load<i32>(idx + (<usize>i << 2));
    memory.copy(dst + <usize>(i * rowBytes), src + <usize>(j * rowBytes), <usize>rowBytes);
  }
}

// dst[idx[i], :] += src[i, :] (f32 rows of n elements).
export function f32_scatter_add_rows(src: usize, idx: usize, dst: usize, count: i32, n: i32): void {
  for (let i = 0; i < count; i++) {
    const j = load<i32>(idx + (<usize>i << 2));
    const s = src + (<usize>(i * n) << 2);
    const d = dst + (<usize>(j * n) << 2);
    let k = 0;
    for (; k + 4 <= n; k += 4) {
      const o = <usize>k << 2;
      v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(s + o)));
    }
    for (; k < n; k++) {
      const o = <usize>k << 2;
      store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
    }
  }
}

// dst[o, i, :] = src[o, idx[i], :]: x viewed as [outer, n, row] and gathered
// along the middle axis (indices range-checked by the host).
export function gather_axis(src: usize, idx: usize, dst: usize, outer: i32, n: i32, count: i32, rowBytes: i32): void {
  for (let o = 0; o < outer; o++) {
    const s = src + <usize>(o * n) * <usize>rowBytes;
    const d = dst + <usize>(o * count) * <usize>rowBytes;
    for (let i = 0; i < count; i++) {
      const j = load<i32>(idx + (<usize>i << 2));
      memory.copy(d + <usize>i * <usize>rowBytes, s + <usize>j * <usize>rowBytes, <usize>rowBytes);
    }
  }
}

// The gradient of gather_axis: dst[o, idx[i], :] += src[o, i, :] (f32 rows of
// `row` elements), i increasing so repeated indices add up in that order.
export function f32_scatter_add_axis(src: usize, idx: usize, dst: usize, outer: i32, n: i32, count: i32, row: i32): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < count; i++) {
      const j = load<i32>(idx + (<usize>i << 2));
      const s = src + (<usize>((o * count + i) * row) << 2);
      const d = dst + (<usize>((o * n + j) * row) << 2);
      for (let k = 0; k < row; k++) {
        const off = <usize>k << 2;
        store<f32>(d + off, load<f32>(d + off) + load<f32>(s + off));
      }
    }
  }
}

// The k largest of each row of n f32 values, largest first; NaN counts as
// larger than every number, and equal values keep their order (lowest index
// first): a candidate displaces an entry only when strictly greater.
export function f32_topk_rows(src: usize, rows: i32, n: i32, k: i32, vals: usize, idx: usize): void {
  for (let r = 0; r < rows; r++) {
    const s = src + (<usize>(r * n) << 2);
    const v = vals + (<usize>(r * k) << 2);
    const ix = idx + (<usize>(r * k) << 2);
    let filled = 0;
    for (let j = 0; j < n; j++) {
      const x = load<f32>(s + (<usize>j << 2));
      let pos = filled;
      while (pos > 0 && topkGreater(x, load<f32>(v + (<usize>(pos - 1) << 2)))) pos--;
      if (pos >= k) continue;
      const last = filled < k ? filled : k - 1;
      for (let m = last; m > pos; m--) {
        store<f32>(v + (<usize>m << 2), load<f32>(v + (<usize>(m - 1) << 2)));
        store<i32>(ix + (<usize>m << 2), load<i32>(ix + (<usize>(m - 1) << 2)));
      }
      store<f32>(v + (<usize>pos << 2), x);
      store<i32>(ix + (<usize>pos << 2), j);
      if (filled < k) filled++;
    }
  }
}

@inline function topkGreater(a: f32, b: f32): bool {
  if (a != a) return b == b;
  return a > b;
}

// dst[r, idx[r, i]] += src[r, i] for rows of k picked positions out of n.
export function f32_scatter_add_along(src: usize, idx: usize, dst: usize, rows: i32, k: i32, n: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) {
      const j = load<i32>(idx + (<usize>(r * k + i) << 2));
      const d = dst + (<usize>(r * n + j) << 2);
      store<f32>(d, load<f32>(d) + load<f32>(src + (<usize>(r * k + i) << 2)));
    }
  }
}

// dst[i, :] = 0 except dst[i, idx[i]] = 1 (indices range-checked by the host).
export function f32_one_hot(idx: usize, dst: usize, count: i32, depth: i32): void {
  memory.fill(dst, 0, <usize>count * <usize>depth << 2);
  for (let i = 0; i < count; i++) {
    const j = load<i32>(idx + (<usize>i << 2));
    store<f32>(dst + (<usize>(i * depth + j) << 2), 1.0);
  }
}

// Largest of n int32 values, or -1 when n is 0.
export function i32_max_value(src: usize, n: i32): i32 {
  let m: i32 = -1;
  for (let i = 0; i < n; i++) m = max(m, load<i32>(src + (<usize>i << 2)));
  return m;
}

// dst[idx[i]] += 1 (int32 counts) or += w[i] (f32, i increasing) when w != 0,
// over dst of `length` entries zeroed first (indices range-checked by the host).
export function bincount(idx: usize, w: usize, n: i32, dst: usize, length: i32): void {
  memory.fill(dst, 0, <usize>length << 2);
  if (w == 0) {
    for (let i = 0; i < n; i++) {
      const d = dst + (<usize>load<i32>(idx + (<usize>i << 2)) << 2);
      store<i32>(d, load<i32>(d) + 1);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const d = dst + (<usize>load<i32>(idx + (<usize>i << 2)) << 2);
      store<f32>(d, load<f32>(d) + load<f32>(w + (<usize>i << 2)));
    }
  }
}
