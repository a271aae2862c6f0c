import { liveTensorCount } from '../tensor/tensor.js';
import { alignUp } from './allocator.js';
import { rt } from './context.js';
import { ARG_BLOCK_BYTES } from './views.js';

export interface MemoryStats {
  /** Bytes handed out by the allocator (tensors, and nothing else between ops). */
  bytesInUse: number;
  tensorsAlive: number;
  /** Size of the wasm memory (only grows). */
  memoryBytes: number;
}

export function memoryStats(): MemoryStats {
  const r = rt();
  // The argument block is the runtime's own, not the user's.
  return { bytesInUse: r.allocator.bytesInUse - alignUp(ARG_BLOCK_BYTES), tensorsAlive: liveTensorCount(), memoryBytes: r.memory.buffer.byteLength };
}
