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
