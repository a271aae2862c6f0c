// Axis arithmetic for the strided kernels (copy_strided, f32_binary).

/**
 * Merges neighbouring axes that every operand walks contiguously, and drops
 * size-1 axes, so strided kernels see as few axes as possible.
 */
export function collapseAxes(dims: readonly number[], stridesList: readonly number[][]): { dims: number[]; strides: number[][] } {
  const outDims: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 1) continue;
    const last = outDims.length - 1;
    if (last >= 0 && stridesList.every((s, k) => outStrides[k][last] === s[i] * dims[i])) {
      outDims[last] *= dims[i];
      stridesList.forEach((s, k) => (outStrides[k][last] = s[i]));
    } else {
      outDims.push(dims[i]);
      stridesList.forEach((s, k) => outStrides[k].push(s[i]));
    }
  }
  if (outDims.length === 0) return { dims: [1], strides: stridesList.map(() => [1]) };
  return { dims: outDims, strides: outStrides };
}

/** Largest element index reached from `start` over index space `dims` with `strides` (all >= 0), or -1 when empty. */
export function lastIndex(start: number, dims: readonly number[], strides: readonly number[]): number {
  let last = start;
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 0) return -1;
    last += (dims[i] - 1) * strides[i];
  }
  return last;
}
