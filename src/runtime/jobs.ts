// The job block: the one place where the calling thread hands a kernel call to
// the worker pool. It lives in the shared wasm memory at an offset reserved
// through the host allocator at init, so workers need no allocation and no
// messages per job. Imported by the host (pool.ts) and the worker entry
// (worker.ts): this file is the protocol.
//
// A job is one wasm export called once per tile of a grid over output rows
// [r0, r1) (step rstep) x columns [c0, c1) (step cstep). Each argument of the
// call is affine in the tile's bounds and the thread's index:
//   arg = c + ki0·i0 + ki1·i1 + kj0·j0 + kj1·j1 + kt·thread
// which expresses every binding's tile call (row pointers, lengths, tile
// ranges, a per-thread workspace) without running host code in the worker.
//
// Synchronization (all through Atomics on the Int32 words below):
//  - GEN is a sequence lock: odd while the host writes a job, even when it is
//    published. Workers sleep in Atomics.wait on GEN.
//  - A worker announces itself in ACTIVE before it reads the job and re-checks
//    GEN; the host waits for ACTIVE = 0 before it overwrites the block, so no
//    worker ever reads half of one job and half of the next.
//  - Tiles are claimed with Atomics.add on NEXT; each finished tile adds 1 to
//    DONE, and the worker finishing the last one notifies the host.
//  - SUM accumulates an integer returned by each tile (Atomics.add: the order
//    does not matter for integers, so the total is deterministic).

export const GEN = 0;
export const NEXT = 1;
export const DONE = 2;
export const ACTIVE = 3;
export const QUIT = 4;
/** Threads taking part in this job (worker ids >= this sit it out). */
export const LIMIT = 5;
/** Index of the export in the name list the workers were started with. */
export const FN = 6;
export const NARGS = 7;
export const TILES = 8;
export const COL_TILES = 9;
/** Set by a worker whose call threw (a trap): the host reports it instead of returning garbage. */
export const FAILED = 10;
export const SUM = 11;
export const INT_WORDS = 16;

/** Float64 slots after the Int32 words: the grid, then 6 coefficients per argument. */
export const GRID_F64 = INT_WORDS / 2;
export const ARGS_F64 = GRID_F64 + 6;
export const COEFFS = 6;
export const MAX_ARGS = 24;
export const JOB_BLOCK_BYTES = (ARGS_F64 + COEFFS * MAX_ARGS) * 8;

/**
 * How long a thread checks a job word before it sleeps on it. A training
 * step's kernel calls arrive tens to hundreds of µs apart, and waking a
 * sleeping thread (a futex, and on a VM an idle vCPU) costs about as much:
 * spinning 0.5 ms instead of ~2 µs took the BNN step at 2 threads from 27.9
 * to 26.7 ms in an interleaved A/B (BENCHMARKS.md, Threads). A thread that
 * spins has nothing else to run: the pool has one thread per core by default.
 */
export const SPIN_MS = 0.5;

/**
 * Checks ctl[index] until `ok` holds of it (true) or `ms` have passed (false;
 * `last` then holds the value seen, for Atomics.wait).
 */
export function spinUntil(ctl: Int32Array, index: number, ok: (v: number) => boolean, ms: number, last: { v: number }): boolean {
  const until = performance.now() + ms;
  for (;;) {
    // The clock is read every 64 checks: a check is a few ns, the clock tens.
    for (let i = 0; i < 64; i++) {
      const v = Atomics.load(ctl, index);
      if (ok(v)) return true;
      last.v = v;
    }
    if (performance.now() >= until) return false;
  }
}

/** Bounds of tile t: [i0, i1) x [j0, j1). */
export function tileBounds(f: Float64Array, colTiles: number, t: number, out: Float64Array): void {
  const rt = Math.floor(t / colTiles);
  const ct = t - rt * colTiles;
  const r0 = f[GRID_F64], r1 = f[GRID_F64 + 1], rs = f[GRID_F64 + 2];
  const c0 = f[GRID_F64 + 3], c1 = f[GRID_F64 + 4], cs = f[GRID_F64 + 5];
  out[0] = r0 + rt * rs;
  out[1] = Math.min(r1, out[0] + rs);
  out[2] = c0 + ct * cs;
  out[3] = Math.min(c1, out[2] + cs);
}

/** Argument k of the call for a tile with bounds b (from tileBounds) run by thread `thread`. */
export function argument(f: Float64Array, k: number, b: Float64Array, thread: number): number {
  const o = ARGS_F64 + k * COEFFS;
  return f[o] + f[o + 1] * b[0] + f[o + 2] * b[1] + f[o + 3] * b[2] + f[o + 4] * b[3] + f[o + 5] * thread;
}

/**
 * Claims and runs tiles of the published job until none are left; returns how
 * many this thread ran. Shared by the host (thread 0) and the workers.
 */
export function runTiles(ctl: Int32Array, f: Float64Array, fn: (...args: number[]) => unknown, thread: number): number {
  const tiles = ctl[TILES];
  const colTiles = ctl[COL_TILES];
  const nargs = ctl[NARGS];
  const b = new Float64Array(4);
  const args = new Array<number>(nargs);
  let ran = 0;
  for (let t = Atomics.add(ctl, NEXT, 1); t < tiles; t = Atomics.add(ctl, NEXT, 1)) {
    try {
      tileBounds(f, colTiles, t, b);
      for (let k = 0; k < nargs; k++) args[k] = argument(f, k, b, thread);
      const r = fn(...args);
      if (typeof r === 'number' && r !== 0) Atomics.add(ctl, SUM, r | 0);
    } catch {
      Atomics.store(ctl, FAILED, 1);
    }
    ran++;
    if (Atomics.add(ctl, DONE, 1) + 1 === tiles) Atomics.notify(ctl, DONE);
  }
  return ran;
}
