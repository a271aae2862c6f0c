import type { WasmExports } from './abi.generated.js';
import type { Allocator } from './allocator.js';
import type { RuntimeName } from './environment.js';
import type { Pool } from './pool.js';

/** The one live wasm instance and the memory it shares with the host. */
export interface Runtime {
  readonly kernels: WasmExports;
  readonly memory: WebAssembly.Memory;
  readonly allocator: Allocator;
  readonly runtime: RuntimeName;
  readonly build: string;
  /** A small block for shape/stride arguments of strided kernels. */
  readonly argBlock: number;
  /** The worker pool of the threads build (null: single-thread build, or no workers could start). */
  readonly pool: Pool | null;
  /** Why this build and thread count (for info()). */
  threadsReason: string;
  /** Bytes the runtime reserved for itself (argument and job blocks): not the user's. */
  readonly reservedBytes: number;
}

let current: Runtime | null = null;

export function setRuntime(r: Runtime | null): void {
  current = r;
}

export function rt(): Runtime {
  if (current === null) throw new Error('snapgrad is not initialized: call `await init()` first');
  return current;
}

export function isInitialized(): boolean {
  return current !== null;
}
