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
 * Below this cost a call stays on the calling thread. A pool round trip (wake,
 * split, wait for the last tile) measured 5-15 µs, the time of ~0.2M
 * multiply-adds on one thread; 2^20 leaves the 1x1024x784 GEMV (0.8M) on the
 * caller, where it must be no slower with threads on (BENCHMARKS.md, Threads).
 */
export const PARALLEL_MIN_COST = 1 << 20;
let minCost = PARALLEL_MIN_COST;

/** Sets the cost below which calls stay on the calling thread (0: split every call; tests use it). */
export function setParallelMinCost(cost: number): void {
  minCost = cost;
}


/** Tiles per thread: enough for dynamic claiming to even out uneven tiles and busy cores. */
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
 * Tile sizes [rows, cols] for about TILES_PER_THREAD·threads tiles. A tile
 * re-reads (packs) its rows' and its columns' operands, so the split follows
 * the shape: cols/rows tiles in the ratio C/R minimize R·colTiles + C·rowTiles.
 * Returns null when the grid has a single tile.
 */
export function chooseGrid(R: number, ralign: number, C: number, calign: number, threads: number): [number, number] | null {
  const maxR = Math.ceil(R / ralign);
  const maxC = Math.ceil(C / calign);
  const target = Math.min(threads * TILES_PER_THREAD, maxR * maxC);
  if (target < 2) return null;
  const clamp = (x: number, max: number) => Math.max(1, Math.min(max, Math.round(x)));
  // The ideal column count, then the rows it leaves, then the columns again: when one axis is
  // short (a GEMV has one row) the other takes all the tiles instead of the ideal ratio's many.
  let ct = clamp(Math.sqrt((target * C) / R), maxC);
  const rtiles = clamp(target / ct, maxR);
  ct = clamp(target / rtiles, maxC);
  const rstep = Math.ceil(Math.ceil(R / rtiles) / ralign) * ralign;
  const cstep = Math.ceil(Math.ceil(C / ct) / calign) * calign;
  if (Math.ceil(R / rstep) * Math.ceil(C / cstep) < 2) return null;
  return [rstep, cstep];
}
