import { parallelTiles, TILE_LENGTH } from '../runtime/parallel.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { packedWords } from './bitpack.js';
import { expectF32, expectShape } from './internal/checks.js';

// Folded "batch norm, then binarize" straight to packed bits (kernel:
// assembly/threshold.ts, twin: reference/threshold.ts).

/**
 * Packs y [M, N] into packBits' layout (int32 [M, ceil(N/128)*4]): bit (m, n)
 * is 1 (meaning -1) when direction[n] > 0 ? y[m, n] < threshold[n] : y[m, n] > threshold[n].
 * threshold is float32 [N], direction int32 [N].
 */
export function thresholdPackF32(y: Tensor, threshold: Tensor, direction: Tensor): Tensor {
  expectF32(y, 'thresholdPackF32', 'y');
  if (y.rank !== 2) throw new Error(`internal: thresholdPackF32: y must be [M, N], got [${y.shape}]`);
  const [M, N] = y.shape;
  expectF32(threshold, 'thresholdPackF32', 'threshold');
  expectShape(threshold, [N], 'thresholdPackF32', 'threshold');
  if (direction.dtype !== 'int32') throw new Error(`internal: thresholdPackF32: direction must be int32, got ${direction.dtype}`);
  expectShape(direction, [N], 'thresholdPackF32', 'direction');
  const out = empty([M, packedWords(N)], 'int32');
  const words = packedWords(N);
  // Rows pack independently: split over rows.
  if (out.size > 0) {
    parallelTiles({
      kernel: 'threshold_pack_f32', rows: { begin: 0, end: M, align: 1 }, cost: 2 * M * N,
      args: [{ c: y.offset, i0: N * 4 }, threshold.offset, direction.offset, TILE_LENGTH, N, { c: out.offset, i0: words * 4 }],
    });
  }
  return out;
}
