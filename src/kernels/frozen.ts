import { rt } from '../runtime/context.js';
import { checkDType, checkRank } from '../tensor/checks.js';
import { bytesPerElement } from '../tensor/dtypes.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { checkBits } from './bitpack.js';

// Bindings used by frozen models (src/freeze/): threshold packing, bit
// unpacking, int8 widening and plain copies.

/**
 * Packs the sign of a per-channel threshold test of y [M, N] into bits
 * (kernel threshold_pack_f32, twin reference/threshold.ts): bit 1 (= -1) where
 * y < threshold (direction 1) or y > threshold (direction -1).
 */
export function thresholdPackF32(y: Tensor, threshold: Tensor, direction: Tensor, op: string): Tensor {
  checkDType(y, op, 'y', 'float32');
  checkRank(y, op, 'y', 2);
  const [M, N] = y.shape;
  checkDType(threshold, op, 'threshold', 'float32');
  checkDType(direction, op, 'direction', 'int32');
  if (threshold.size !== N || direction.size !== N) {
    throw new Error(`${op}: threshold and direction need ${N} values (one per channel), got ${threshold.size} and ${direction.size}`);
  }
  const out = empty([M, Math.ceil(N / 128) * 4], 'int32');
  rt().kernels.threshold_pack_f32(y.offset, threshold.offset, direction.offset, M, N, out.offset);
  return out;
}

/** Packed ±1 bits [rows, words] of k values per row back to float32 ±1 [rows, k]. */
export function unpackBitsF32(bits: Tensor, k: number, op: string): Tensor {
  const [rows, words] = checkBits(bits, k, op, 'bits');
  const out = empty([rows, k], 'float32');
  const src = new Uint32Array(rt().memory.buffer, bits.offset, rows * words);
  const dst = new Float32Array(rt().memory.buffer, out.offset, rows * k);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) dst[r * k + j] = (src[r * words + (j >> 5)] >>> (j & 31)) & 1 ? -1 : 1;
  }
  return out;
}

/** int8 values widened to float32 (exact). */
export function int8ToF32(t: Tensor, op: string): Tensor {
  checkDType(t, op, 'x', 'int8');
  const out = empty(t.shape, 'float32');
  rt().kernels.i8_to_f32(t.offset, out.offset, t.size);
  return out;
}

/** A new tensor with the same shape, dtype and bytes. */
export function copyTensor(t: Tensor): Tensor {
  const out = empty(t.shape, t.dtype);
  const bytes = t.size * bytesPerElement(t.dtype);
  const buffer = rt().memory.buffer;
  new Uint8Array(buffer, out.offset, bytes).set(new Uint8Array(buffer, t.offset, bytes));
  return out;
}
