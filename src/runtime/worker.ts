// Entry point of a pool worker (bundled alone as dist/snapgrad.worker.js).
// It instantiates the module the host compiled, over the host's shared
// memory, says it is ready, then loops: sleep on the job block, run tiles,
// sleep again. It computes on raw memory and never allocates: the host's
// allocator stays the only one. The same file runs as a Node worker_threads
// worker, a Deno Worker and a browser Web Worker.
import { ACTIVE, FN, GEN, INT_WORDS, JOB_BLOCK_BYTES, LIMIT, QUIT, runTiles, SPIN_MS, spinUntil } from './jobs.js';

/** The one message a worker receives. */
export interface WorkerStart {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Byte offset of the job block. */
  block: number;
  /** Export names; a job names its function by index in this list. */
  names: readonly string[];
  /** This worker's thread index (1..T-1; the host is 0). */
  id: number;
}

interface Port {
  post(message: unknown): void;
  close(): void;
}

async function main(start: WorkerStart, port: Port): Promise<void> {
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(start.module, { env: { memory: start.memory } });
  } catch (err) {
    port.post({ error: String((err as Error)?.message ?? err) });
    port.close();
    return;
  }
  const ctl = new Int32Array(start.memory.buffer, start.block, INT_WORDS);
  const f = new Float64Array(start.memory.buffer, start.block, JOB_BLOCK_BYTES / 8);
  const exports = instance.exports as Record<string, (...args: number[]) => unknown>;
  const fns = start.names.map((n) => exports[n]);
  let seen = Atomics.load(ctl, GEN) & ~1;
  const last = { v: 0 };
  const changed = (v: number) => v !== seen;
  port.post({ ready: true });
  for (;;) {
    // Back-to-back kernel calls arrive faster than a wake-up from sleep (jobs.ts, SPIN_MS).
    if (!spinUntil(ctl, GEN, changed, SPIN_MS, last)) Atomics.wait(ctl, GEN, seen);
    if (Atomics.load(ctl, QUIT) !== 0) break;
    const g = Atomics.load(ctl, GEN);
    if (g === seen) continue;
    if ((g & 1) !== 0) {
      Atomics.wait(ctl, GEN, g);
      continue;
    }
    Atomics.add(ctl, ACTIVE, 1);
    if (Atomics.load(ctl, GEN) === g && start.id < ctl[LIMIT]) {
      runTiles(ctl, f, fns[ctl[FN]], start.id);
    }
    if (Atomics.sub(ctl, ACTIVE, 1) === 1) Atomics.notify(ctl, ACTIVE);
    seen = g;
  }
  port.close();
}

const g = globalThis as any;
if (typeof g.WorkerGlobalScope !== 'undefined' || (typeof g.self !== 'undefined' && typeof g.self.postMessage === 'function' && typeof g.process === 'undefined')) {
  // A Web Worker (browser, Deno).
  g.self.addEventListener('message', (e: MessageEvent<WorkerStart>) => {
    void main(e.data, { post: (m) => g.self.postMessage(m), close: () => g.self.close() });
  }, { once: true });
} else {
  // Node worker_threads (and Deno's, which the pool uses there so that workers can be unref'd).
  const { parentPort } = await import('node:worker_threads');
  const port = parentPort!;
  port.once('message', (start: WorkerStart) => {
    void main(start, { post: (m) => port.postMessage(m), close: () => port.close() });
  });
}
