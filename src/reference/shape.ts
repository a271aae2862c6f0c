/**
 * Scalar twin of assembly/shape.ts: data movement, so every result is exact.
 * Typed arrays are indexed in elements of their own type (Uint8Array for
 * 1-byte elements, Uint32Array or Float32Array for 4-byte ones).
 */

type Elements = Uint8Array | Int8Array | Uint32Array | Int32Array | Float32Array;

/**
 * For every index (i_0, ..., i_{d-1}) of the space `dims`:
 * dst[dstBase + sum i_k*dstStrides[k]] = src[srcBase + sum i_k*srcStrides[k]].
 * Strides may be 0 on the source side (broadcast). Elements are copied as
 * bits, so NaN payloads and -0 survive.
 */
export function copyStridedRef(src: Elements, srcBase: number, srcStrides: readonly number[],
                               dst: Elements, dstBase: number, dstStrides: readonly number[],
                               dims: readonly number[]): void {
  const total = dims.reduce((p, d) => p * d, 1);
  const index = new Array(dims.length).fill(0);
  for (let e = 0; e < total; e++) {
    let so = srcBase;
    let dO = dstBase;
    for (let d = 0; d < dims.length; d++) {
      so += index[d] * srcStrides[d];
      dO += index[d] * dstStrides[d];
    }
    dst[dO] = src[so];
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
}

/** dst[c, r] = src[r, c] for a rows x cols matrix of 4-byte elements. */
export function transpose32Ref(src: Uint32Array, dst: Uint32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
  }
}

/** dst row i = src row idx[i], rows of rowBytes bytes. */
export function gatherRowsRef(src: Uint8Array, idx: Int32Array, dst: Uint8Array, rowBytes: number): void {
  for (let i = 0; i < idx.length; i++) {
    dst.set(src.subarray(idx[i] * rowBytes, (idx[i] + 1) * rowBytes), i * rowBytes);
  }
}

/**
 * dst[idx[i], :] += src[i, :] for f32 rows of n elements, i in increasing
 * order, so repeated indices accumulate in that order (float32 rounding).
 */
export function f32ScatterAddRowsRef(src: Float32Array, idx: Int32Array, dst: Float32Array, n: number): void {
  for (let i = 0; i < idx.length; i++) {
    const d = idx[i] * n;
    for (let k = 0; k < n; k++) dst[d + k] = Math.fround(dst[d + k] + src[i * n + k]);
  }
}

/** dst[o, i, :] = src[o, idx[i], :] for x viewed as [outer, n, row] (row in elements). */
export function gatherAxisRef(src: Elements, idx: Int32Array, dst: Elements, outer: number, n: number, row: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < idx.length; i++) {
      for (let k = 0; k < row; k++) dst[(o * idx.length + i) * row + k] = src[(o * n + idx[i]) * row + k];
    }
  }
}

/** dst[o, idx[i], :] += src[o, i, :], i increasing (float32 rounding). */
export function f32ScatterAddAxisRef(src: Float32Array, idx: Int32Array, dst: Float32Array, outer: number, n: number, row: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < idx.length; i++) {
      for (let k = 0; k < row; k++) {
        const d = (o * n + idx[i]) * row + k;
        dst[d] = Math.fround(dst[d] + src[(o * idx.length + i) * row + k]);
      }
    }
  }
}

/**
 * The k largest of each row of n values, largest first, NaN above every
 * number, ties broken by the lower index: a stable sort of each row.
 */
export function f32TopkRowsRef(src: Float32Array, rows: number, n: number, k: number, vals: Float32Array, idx: Int32Array): void {
  const key = (v: number): number => (Number.isNaN(v) ? Infinity : v);
  for (let r = 0; r < rows; r++) {
    const order = Array.from({ length: n }, (_, j) => j);
    const row = src.subarray(r * n, (r + 1) * n);
    order.sort((a, b) => {
      const na = Number.isNaN(row[a]);
      const nb = Number.isNaN(row[b]);
      if (na !== nb) return na ? -1 : 1;
      if (!na && key(row[a]) !== key(row[b])) return key(row[b]) - key(row[a]) > 0 ? 1 : -1;
      return a - b;
    });
    for (let i = 0; i < k; i++) {
      vals[r * k + i] = row[order[i]];
      idx[r * k + i] = order[i];
    }
  }
}

/** dst[r, idx[r, i]] += src[r, i] over rows of k picked positions out of n. */
export function f32ScatterAddAlongRef(src: Float32Array, idx: Int32Array, dst: Float32Array, rows: number, k: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) dst[r * n + idx[r * k + i]] = Math.fround(dst[r * n + idx[r * k + i]] + src[r * k + i]);
  }
}

/** Rows of `depth` zeros with a 1 at each index. */
export function f32OneHotRef(idx: Int32Array, depth: number): Float32Array {
  const out = new Float32Array(idx.length * depth);
  idx.forEach((j, i) => { out[i * depth + j] = 1; });
  return out;
}

/** Counts (weights null) or float32 sums of weights per index value, over `length` bins, i increasing. */
export function bincountRef(idx: Int32Array, weights: Float32Array | null, length: number): Int32Array | Float32Array {
  if (weights === null) {
    const out = new Int32Array(length);
    for (const j of idx) out[j]++;
    return out;
  }
  const out = new Float32Array(length);
  idx.forEach((j, i) => { out[j] = Math.fround(out[j] + weights[i]); });
  return out;
}
