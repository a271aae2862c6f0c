import { rt } from '../runtime/context.js';
import { checkTensor } from './checks.js';
import type { Tensor } from './tensor.js';
import { storageOf } from './tensor.js';

/**
 * Caches data derived from a tensor (bit-packed weights, codebook norms, ...)
 * in wasm memory. The cache lives with the tensor's storage, which views
 * (reshape, detach) share, so an entry is keyed by the tensor's dtype and
 * shape as well as `key` (which names everything else the data depends on,
 * e.g. transposeB): a reshaped view never reads data derived for another
 * shape. Entries are rebuilt after an in-place write (markModified) and
 * freed with the storage. Returns the offset of a block of `bytes` bytes
 * filled by `compute`.
 */
export function cachedDerived(t: Tensor, key: string, bytes: number, compute: (offset: number) => void): number {
  const s = storageOf(t);
  const map = (s.derived ??= new Map());
  const fullKey = `${key}|${t.dtype}[${t.shape.join(',')}]`;
  const entry = map.get(fullKey);
  const { allocator } = rt();
  if (entry !== undefined && entry.version === s.version && (allocator.sizeOf(entry.offset) ?? 0) >= bytes) return entry.offset;
  // Versions only grow: every entry from an older version is stale for all views.
  for (const [k, e] of map) {
    if (e.version !== s.version || k === fullKey) {
      allocator.free(e.offset);
      map.delete(k);
    }
  }
  const offset = allocator.alloc(bytes);
  try {
    compute(offset);
  } catch (err) {
    allocator.free(offset);
    throw err;
  }
  map.set(fullKey, { version: s.version, offset });
  return offset;
}

/** Call after writing into a tensor's memory in place: derived caches become stale. */
export function markModified(t: Tensor): void {
  checkTensor(t, 'markModified', 't');
  storageOf(t).version++;
}
