import { rt } from '../runtime/context.js';
import { checkTensor } from './checks.js';
import type { Tensor } from './tensor.js';

/**
 * Caches data derived from a tensor (bit-packed weights, codebook norms, ...)
 * in wasm memory. The cache lives with the tensor's storage: it is rebuilt
 * after an in-place write (markModified) and freed when the storage is freed.
 * Returns the offset of a block of `bytes` bytes filled by `compute`.
 */
export function cachedDerived(t: Tensor, key: string, bytes: number, compute: (offset: number) => void): number {
  const s = t.alive();
  const map = (s.derived ??= new Map());
  const entry = map.get(key);
  const { allocator } = rt();
  if (entry !== undefined) {
    if (entry.version === s.version && (allocator.sizeOf(entry.offset) ?? 0) >= bytes) return entry.offset;
    allocator.free(entry.offset);
    map.delete(key);
  }
  const offset = allocator.alloc(bytes);
  try {
    compute(offset);
  } catch (err) {
    allocator.free(offset);
    throw err;
  }
  map.set(key, { version: s.version, offset });
  return offset;
}

/** Call after writing into a tensor's memory in place: derived caches become stale. */
export function markModified(t: Tensor): void {
  checkTensor(t, 'markModified', 't');
  t.alive().version++;
}
