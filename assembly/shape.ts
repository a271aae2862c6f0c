// Data movement: strided copies (transpose, slice, broadcast), row gather and
// its scatter-add. Scalar twin: src/reference/shape.ts.

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
