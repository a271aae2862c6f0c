import { WASM_FUNCTION_EXPORTS, type WasmExports } from './abi.generated.js';
import { rt } from './context.js';

// The one door from kernel bindings to the worker pool. A binding describes
// its kernel call once, as a grid of output tiles and arguments affine in a
// tile's bounds; parallelTiles runs it on the calling thread alone (small
// calls, one thread) or split over the pool. Determinism rule: a grid covers
// output rows and columns only, never a reduction axis, and each kernel gives
// every tile the bits of the whole call, so every thread count gives the same
// bits.

/** A term of a tile argument: c + i0·ki0 + i1·ki1 + j0·kj0 + j1·kj1 + thread·kt. */
export interface TileTerm {
  c?: number;
  i0?: number;
  i1?: number;
  j0?: number;
  j1?: number;
  thread?: number;
}

/** An argument: a constant, a term of the tile bounds, or the thread's workspace. */
export type TileArg = number | TileTerm | typeof WORKSPACE;

/** Stands for the calling thread's scratch block of `workspace(tileRows, tileCols)` bytes. */
export const WORKSPACE: unique symbol = Symbol('workspace');

/** [begin, end) split into pieces that are multiples of `align` (the kernel's register tile). */
export interface TileAxis {
  begin: number;
  end: number;
  align: number;
}

type KernelName = keyof Omit<WasmExports, 'memory'>;

/** Element i0 of a buffer of `bytes`-byte elements at `offset`, for a tile of elements [i0, i1). */
export const elementAt = (offset: number, bytes = 4): TileTerm => ({ c: offset, i0: bytes });
/** The tile's length, i1 - i0. */
export const TILE_LENGTH: TileTerm = { i1: 1, i0: -1 };

/**
 * The grid of a pass over n elements, `perElement` multiply-add equivalents
 * each. Tiles are multiples of 64 elements, so every element keeps the
 * vector body or scalar tail it has in the full call (tails differ from
 * bodies in some kernels' last bits).
 */
export function elementPass(n: number, perElement: number): { rows: TileAxis; cost: number } {
  return { rows: { begin: 0, end: n, align: 64 }, cost: perElement * n };
}

export interface TileJob {
  kernel: KernelName;
  rows: TileAxis;
  cols?: TileAxis;
  /** The call's work in multiply-adds or equivalent (memory passes: a few per element); decides whether threads pay. */
  cost: number;
  args: readonly TileArg[];
  /** Scratch bytes a tile of rows x cols needs (one block per thread). */
  workspace?: (rows: number, cols: number) => number;
}

/**
 * Below this cost a call stays on the calling thread. A pool round trip
 * (split, wait for the last tile) measured 5-15 µs while the workers spin
 * between calls. 2^20 leaves the 1x1024x784 GEMV (0.8M) on the caller, where
 * it must be no slower with threads on: split, it measured 0.96-1.28x in
 * different runs (BENCHMARKS.md, Threads), and 131072-element passes (0.5M)
 * gained nothing.
 */
export const PARALLEL_MIN_COST = 1 << 20;
let minCost = PARALLEL_MIN_COST;

/** Sets the cost below which calls stay on the calling thread (0: split every call; tests use it). */
export function setParallelMinCost(cost: number): void {
  minCost = cost;
}


/** At most this many tiles per thread (chooseGrid weighs balance against re-packing). */
const TILES_PER_THREAD = 4;
/** Workspaces start on separate cache lines. */
const WORK_ALIGN = 64;

const EXPORT_INDEX = new Map<string, number>(WASM_FUNCTION_EXPORTS.map((n, i) => [n, i]));

const term = (a: TileArg, i0: number, i1: number, j0: number, j1: number): number =>
  typeof a === 'number' ? a : a === WORKSPACE ? 0 : (a.c ?? 0) + (a.i0 ?? 0) * i0 + (a.i1 ?? 0) * i1 + (a.j0 ?? 0) * j0 + (a.j1 ?? 0) * j1;

/**
 * Runs a kernel over all tiles of the job's grid, in parallel when threads
 * are on and the call is big enough; returns the (integer) sum of the calls'
 * results, or the one call's result.
 */
export function parallelTiles(job: TileJob): number {
  const r = rt();
  const { rows } = job;
  // Without columns the grid has one column [0, 1).
  const cols = job.cols ?? { begin: 0, end: 1, align: 1 };
  const R = rows.end - rows.begin;
  const C = cols.end - cols.begin;
  const fn = r.kernels[job.kernel] as (...args: number[]) => unknown;
  const threads = r.pool?.threads ?? 1;
  const grid = threads > 1 && job.cost >= minCost && R > 0 && C > 0 ? chooseGrid(R, rows.align, C, cols.align, threads) : null;
  if (grid === null) {
    return withScratch(job.workspace?.(R, C) ?? 0, (work) => {
      const args = job.args.map((a) => (a === WORKSPACE ? work : term(a, rows.begin, rows.end, cols.begin, cols.end)));
      const out = fn(...args);
      return typeof out === 'number' ? out : 0;
    });
  }
  const [rstep, cstep] = grid;
  const rowTiles = Math.ceil(R / rstep);
  const colTiles = Math.ceil(C / cstep);
  const per = job.workspace ? Math.ceil(job.workspace(Math.min(rstep, R), Math.min(cstep, C)) / WORK_ALIGN) * WORK_ALIGN : 0;
  return withScratch(per * threads, (work) => {
    const coeffs: number[] = [];
    for (const a of job.args) {
      if (typeof a === 'number') coeffs.push(a, 0, 0, 0, 0, 0);
      else if (a === WORKSPACE) coeffs.push(work, 0, 0, 0, 0, per);
      else coeffs.push(a.c ?? 0, a.i0 ?? 0, a.i1 ?? 0, a.j0 ?? 0, a.j1 ?? 0, a.thread ?? 0);
    }
    const g = [rows.begin, rows.end, rstep, cols.begin, cols.end, cstep];
    return r.pool!.run(EXPORT_INDEX.get(job.kernel)!, fn, g, rowTiles * colTiles, colTiles, coeffs);
  });
}

function withScratch<T>(bytes: number, fn: (work: number) => T): T {
  if (bytes === 0) return fn(0);
  const { allocator } = rt();
  const work = allocator.alloc(bytes);
  try {
    return fn(work);
  } finally {
    allocator.free(work);
  }
}

/**
 * Packing cost of an operand element relative to a multiply-add: a tile packs
 * its rows of A and its columns of B again (the f32 GEMM packs ~3 G elements/s
 * and multiply-adds ~12 G/s).
 */
const PACK_WEIGHT = 4;
/**
 * Thread speeds a grid is also judged under: one thread at 70%. Shared
 * machines slow one core at a time (CPU steal; measured: a 2-tile GEMM whose
 * worker tile took 1.6 ms longer than the host's 3.5 ms), and more tiles let
 * the faster thread claim the slower one's share.
 */
const SLOW_THREAD = 0.7;
const gridCache = new Map<string, [number, number] | null>();

/**
 * Tile sizes [rows, cols] for at most TILES_PER_THREAD·threads tiles, a
 * multiple of the thread count where the shape allows it: the split with the
 * least estimated time. The time is the last thread's finish when threads
 * claim tiles in order (tiles are uneven where the axes do not divide),
 * averaged over equal speeds and one slow thread, plus the operand re-packing
 * each tile does (rows once per column tile, columns once per row tile).
 * Returns null when the grid has a single tile.
 */
export function chooseGrid(R: number, ralign: number, C: number, calign: number, threads: number): [number, number] | null {
  const key = `${R} ${ralign} ${C} ${calign} ${threads}`;
  const known = gridCache.get(key);
  if (known !== undefined) return known;
  const maxR = Math.ceil(R / ralign);
  const maxC = Math.ceil(C / calign);
  const most = Math.min(threads * TILES_PER_THREAD, maxR * maxC);
  let best: [number, number] | null = null;
  let bestTime = Infinity;
  for (let rt = 1; rt <= Math.min(maxR, most); rt++) {
    for (let ct = 1; ct <= maxC && rt * ct <= most; ct++) {
      const rstep = Math.ceil(Math.ceil(R / rt) / ralign) * ralign;
      const cstep = Math.ceil(Math.ceil(C / ct) / calign) * calign;
      const nr = Math.ceil(R / rstep), nc = Math.ceil(C / cstep);
      if (nr * nc < 2 || (nr * nc) % threads !== 0) continue;
      const time = (finish(R, rstep, C, cstep, threads, 1) + finish(R, rstep, C, cstep, threads, SLOW_THREAD)) / 2
        + (PACK_WEIGHT * (R * nc + C * nr)) / threads;
      if (time < bestTime) {
        bestTime = time;
        best = [rstep, cstep];
      }
    }
  }
  if (best === null && most >= 2) best = fewerTiles(R, ralign, C, calign, most);
  if (gridCache.size >= 1024) gridCache.clear();
  gridCache.set(key, best);
  return best;
}

/** Too few aligned pieces for a multiple of the threads: as many tiles as there are, rows first. */
function fewerTiles(R: number, ralign: number, C: number, calign: number, tiles: number): [number, number] {
  const maxR = Math.ceil(R / ralign);
  const rt = Math.min(maxR, tiles);
  const ct = Math.max(1, Math.floor(tiles / rt));
  return [Math.ceil(Math.ceil(R / rt) / ralign) * ralign, Math.ceil(Math.ceil(C / ct) / calign) * calign];
}

/**
 * When the last of `threads` threads finishes the tiles of a grid, claiming
 * them in order (each goes to the thread free first); the last thread runs
 * at `slow` speed. In units of output elements.
 */
function finish(R: number, rstep: number, C: number, cstep: number, threads: number, slow: number): number {
  const free = new Float64Array(threads);
  for (let i0 = 0; i0 < R; i0 += rstep) {
    for (let j0 = 0; j0 < C; j0 += cstep) {
      let k = 0;
      for (let t = 1; t < threads; t++) if (free[t] < free[k]) k = t;
      free[k] += (Math.min(rstep, R - i0) * Math.min(cstep, C - j0)) / (k === threads - 1 ? slow : 1);
    }
  }
  return Math.max(...free);
}
