import { rt } from '../runtime/context.js';
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
  if (out.size > 0) rt().kernels.threshold_pack_f32(y.offset, threshold.offset, direction.offset, M, N, out.offset);
  return out;
}
