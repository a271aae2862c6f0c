import {
  ACTIVE, ARGS_F64, COEFFS, COL_TILES, DONE, FAILED, FN, GEN, GRID_F64, INT_WORDS, JOB_BLOCK_BYTES, LIMIT, MAX_ARGS,
  NARGS, NEXT, QUIT, runTiles, SPIN_MS, spinUntil, SUM, TILES,
} from './jobs.js';
import type { WorkerStart } from './worker.js';

// The worker pool: T-1 persistent workers over the host's shared memory,
// driven through the job block (jobs.ts). The calling thread runs tiles too
// (thread 0) and returns only when every tile is done, so a parallel kernel
// call is as synchronous as a plain one.

/** A worker as both Node's worker_threads and the Web Worker API let us use it. */
interface PoolWorker {
  terminate(): void;
}

export interface WorkerFactory {
  /** Starts the worker script and hands it the start message; resolves when it has instantiated the module. */
  (start: WorkerStart): Promise<PoolWorker>;
}

/** How long a worker may take to start before the pool gives up on threads. */
const START_TIMEOUT_MS = 15000;

export class Pool {
  private readonly ctl: Int32Array;
  private readonly f: Float64Array;
  private readonly workers: PoolWorker[] = [];
  private threadCount = 1;
  private closed = false;
  /** Jobs run, their tiles, and the tiles the calling thread ran itself (the rest ran in workers). */
  readonly stats = { jobs: 0, tiles: 0, callerTiles: 0 };

  /**
   * @param canBlock whether this thread may Atomics.wait (not a browser's main thread: there the host spins)
   */
  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly module: WebAssembly.Module,
    readonly block: number,
    private readonly names: readonly string[],
    private readonly spawn: WorkerFactory,
    readonly canBlock: boolean,
  ) {
    this.ctl = new Int32Array(memory.buffer, block, INT_WORDS);
    this.f = new Float64Array(memory.buffer, block, JOB_BLOCK_BYTES / 8);
  }

  /** Threads that take part in jobs, the calling one included. */
  get threads(): number {
    return this.threadCount;
  }

  /** Uses `threads` threads from now on, starting workers that are missing (resolves when they run). */
  async resize(threads: number): Promise<void> {
    if (this.closed) throw new Error('setThreads: the thread pool was shut down');
    while (this.workers.length < threads - 1) {
      const id = this.workers.length + 1;
      const start: WorkerStart = { module: this.module, memory: this.memory, block: this.block, names: this.names, id };
      this.workers.push(await withTimeout(this.spawn(start), START_TIMEOUT_MS, `worker ${id} did not start within ${START_TIMEOUT_MS / 1000} s`));
    }
    // Workers beyond the limit stay asleep and sit jobs out (cheap to keep, quick to re-enlist).
    this.threadCount = threads;
  }

  /**
   * Runs `fn` (export number `fnIndex`) on every tile of the grid with the
   * affine arguments `coeffs` (COEFFS numbers per argument, see jobs.ts);
   * returns the sum of the tiles' integer results.
   */
  run(fnIndex: number, fn: (...args: number[]) => unknown, grid: readonly number[], tiles: number, colTiles: number, coeffs: readonly number[]): number {
    const { ctl, f } = this;
    const nargs = coeffs.length / COEFFS;
    if (nargs > MAX_ARGS) throw new Error(`internal: a parallel job takes at most ${MAX_ARGS} arguments, got ${nargs}`);
    const g = Atomics.load(ctl, GEN);
    Atomics.store(ctl, GEN, g + 1);
    // Stragglers of the previous job must leave before its description is overwritten.
    this.waitUntil(ACTIVE, (v) => v === 0);
    ctl[FN] = fnIndex;
    ctl[NARGS] = nargs;
    ctl[TILES] = tiles;
    ctl[COL_TILES] = colTiles;
    ctl[LIMIT] = this.threadCount;
    ctl[NEXT] = 0;
    ctl[DONE] = 0;
    ctl[FAILED] = 0;
    ctl[SUM] = 0;
    f.set(grid, GRID_F64);
    f.set(coeffs, ARGS_F64);
    Atomics.store(ctl, GEN, (g + 2) | 0);
    Atomics.notify(ctl, GEN);
    const mine = runTiles(ctl, f, fn, 0);
    this.waitUntil(DONE, (v) => v >= tiles);
    this.stats.jobs++;
    this.stats.tiles += tiles;
    this.stats.callerTiles += mine;
    if (Atomics.load(ctl, FAILED) !== 0) throw new Error(`internal: kernel ${this.names[fnIndex]} failed in a tile (a wasm trap); this is a bug in snapgrad`);
    return Atomics.load(ctl, SUM);
  }

  /** Spins, then sleeps between checks; a browser's main thread, which may not sleep, spins on. */
  private waitUntil(index: number, ok: (v: number) => boolean): void {
    const last = { v: 0 };
    while (!spinUntil(this.ctl, index, ok, SPIN_MS, last)) {
      if (this.canBlock) Atomics.wait(this.ctl, index, last.v, 10);
    }
  }

  /** Stops the workers; the pool runs no more jobs. */
  shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    this.threadCount = 1;
    Atomics.store(this.ctl, QUIT, 1);
    Atomics.add(this.ctl, GEN, 2);
    Atomics.notify(this.ctl, GEN);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
export function threadCanBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts workers with Node's worker_threads; unref'd so they never keep the process alive. */
export async function nodeWorkerFactory(script: URL): Promise<WorkerFactory> {
  const { Worker } = await import('node:worker_threads');
  return (start) => new Promise((resolve, reject) => {
    // The parent's Node options minus --input-type, which a worker started from a file rejects.
    const execArgv = (globalThis as any).process?.execArgv?.filter((a: string) => !a.startsWith('--input-type'));
    const w = new Worker(script, { execArgv });
    w.unref();
    const fail = (err: unknown) => {
      void w.terminate();
      reject(err instanceof Error ? err : new Error(String((err as { error?: unknown })?.error ?? err)));
    };
    w.once('error', fail);
    w.once('message', (m: { ready?: boolean; error?: string }) => {
      w.off('error', fail);
      if (m.ready) resolve({ terminate: () => void w.terminate() });
      else fail(new Error(m.error ?? 'the worker did not start'));
    });
    w.postMessage(start);
  });
}

/** Starts module Web Workers (browsers, Deno). */
export function webWorkerFactory(script: URL): WorkerFactory {
  return (start) => new Promise((resolve, reject) => {
    const w = new Worker(script, { type: 'module' });
    const fail = (err: unknown) => {
      w.terminate();
      const e = err as ErrorEvent;
      reject(new Error(e?.message ? `${e.message}` : `the worker script ${script.href} failed to load`));
    };
    w.onerror = (e) => {
      e.preventDefault?.();
      fail(e);
    };
    w.onmessage = (e: MessageEvent<{ ready?: boolean; error?: string }>) => {
      w.onerror = null;
      w.onmessage = null;
      if (e.data?.ready) resolve(w);
      else fail(new Error(e.data?.error ?? 'the worker did not start'));
    };
    w.postMessage(start);
  });
}
