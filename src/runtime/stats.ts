import { liveTensorCount } from '../tensor/tensor.js';
import { rt } from './context.js';

export interface MemoryStats {
  /** Bytes handed out by the allocator (tensors, and nothing else between ops). */
  bytesInUse: number;
  tensorsAlive: number;
  /** Size of the wasm memory (only grows). */
  memoryBytes: number;
}

export function memoryStats(): MemoryStats {
  const r = rt();
  // The argument and job blocks are the runtime's own, not the user's.
  return { bytesInUse: r.allocator.bytesInUse - r.reservedBytes, tensorsAlive: liveTensorCount(), memoryBytes: r.memory.buffer.byteLength };
}
