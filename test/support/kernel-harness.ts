// Helpers for calling raw wasm kernels in tests: buffers in the wasm memory
// guarded by canary bytes (to catch out-of-bounds writes), copies in and out,
// a seeded PRNG for inputs and ulp-distance comparison.
import { expect } from 'vitest';
import type { WasmExports } from '../../src/runtime/abi.generated.js';
import { rt } from '../../src/runtime/context.js';

export function kernels(): WasmExports {
  return rt().kernels;
}

type Typed = Float32Array | Int32Array | Uint32Array | Int8Array | Uint8Array;
type TypedCtor<T extends Typed> = { new (buffer: ArrayBufferLike, offset: number, length: number): T; BYTES_PER_ELEMENT: number };

const GUARD = 16;
const CANARY = 0xa5;

interface Block { base: number; payload: number; bytes: number }

/**
 * A set of buffers in the wasm memory, each surrounded by 16 canary bytes on
 * both sides. Views are made fresh on every read and write because an
 * allocation may grow (and so detach) the memory.
 */
export class Arena {
  private readonly blocks: Block[] = [];

  /** An uninitialized buffer of `bytes` bytes (filled with the canary pattern); returns its offset. */
  alloc(bytes: number): number {
    const base = rt().allocator.alloc(bytes + 2 * GUARD);
    const block = { base, payload: base + GUARD, bytes };
    new Uint8Array(rt().memory.buffer, base, bytes + 2 * GUARD).fill(CANARY);
    this.blocks.push(block);
    return block.payload;
  }

  /** A buffer holding a copy of `data`; returns its offset. */
  put(data: Typed): number {
    const off = this.alloc(data.byteLength);
    this.write(off, data);
    return off;
  }

  /** Copies `data` to `offset` (inside a buffer of this arena). */
  write(offset: number, data: Typed): void {
    new Uint8Array(rt().memory.buffer, offset, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  f32(data: ArrayLike<number>): number { return this.put(Float32Array.from(data)); }
  i32(data: ArrayLike<number>): number { return this.put(Int32Array.from(data)); }

  /** A copy of `length` elements at `offset`. */
  read<T extends Typed>(ctor: TypedCtor<T>, offset: number, length: number): T {
    const view = new ctor(rt().memory.buffer, offset, length);
    return (view as any).slice() as T;
  }
  readF32(offset: number, length: number): Float32Array { return this.read(Float32Array, offset, length); }
  readI32(offset: number, length: number): Int32Array { return this.read(Int32Array, offset, length); }

  /** Throws when a kernel wrote outside any of the buffers of this arena. */
  checkGuards(): void {
    const mem = new Uint8Array(rt().memory.buffer);
    for (const b of this.blocks) {
      for (let i = 0; i < GUARD; i++) {
        if (mem[b.base + i] !== CANARY) throw new Error(`write ${GUARD - i} bytes before a buffer of ${b.bytes} bytes`);
        if (mem[b.payload + b.bytes + i] !== CANARY) throw new Error(`write ${i} bytes past the end of a buffer of ${b.bytes} bytes`);
      }
    }
  }

  /** Checks the guards and frees every buffer. */
  free(): void {
    try {
      this.checkGuards();
    } finally {
      for (const b of this.blocks) rt().allocator.free(b.base);
      this.blocks.length = 0;
    }
  }
}

/** Runs fn with a fresh arena, then checks the canaries and frees it. */
export function withArena<R>(fn: (a: Arena) => R): R {
  const arena = new Arena();
  try {
    return fn(arena);
  } finally {
    arena.free();
  }
}

/** Small seeded generator for test inputs (mulberry32). */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  }
  float(lo: number, hi: number): number { return lo + (hi - lo) * this.next(); }
  /** Integer in [lo, hi). */
  int(lo: number, hi: number): number { return lo + Math.floor((hi - lo) * this.next()); }
  pick<T>(items: readonly T[]): T { return items[this.int(0, items.length)]; }
  bool(p = 0.5): boolean { return this.next() < p; }
  f32Array(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.float(lo, hi);
    return out;
  }
  /** Like f32Array, with a share of the entries replaced by values from `specials`. */
  f32WithSpecials(n: number, lo: number, hi: number, specials: readonly number[], share = 0.2): Float32Array {
    const out = this.f32Array(n, lo, hi);
    for (let i = 0; i < n; i++) if (this.bool(share)) out[i] = this.pick(specials);
    return out;
  }
}

/** Sizes that run every SIMD body and every scalar tail. */
export const SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 13, 31, 33, 64, 127, 1000, 1031];

const f32Bits = new Float32Array(1);
const i32Bits = new Int32Array(f32Bits.buffer);

/** Position of a float32 on a line where neighbouring floats are 1 apart (+0 and -0 coincide). */
function ordinal(x: number): number {
  f32Bits[0] = x;
  const i = i32Bits[0];
  return i < 0 ? -(i & 0x7fffffff) : i;
}

/** Distance in float32 ulps; 0 for two NaNs or equal values, Infinity for NaN vs number. */
export function ulpDistance(a: number, b: number): number {
  if (a !== a || b !== b) return a !== a && b !== b ? 0 : Infinity;
  if (a === b) return 0;
  return Math.abs(ordinal(a) - ordinal(b));
}

function show(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/**
 * Asserts exact equality element by element (Object.is: NaN equals NaN, +0
 * differs from -0), naming the first differing index and its input.
 */
export function expectExact(got: ArrayLike<number>, want: ArrayLike<number>, what: string, inputs?: ArrayLike<number>[]): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) {
      const inp = inputs ? ` (inputs ${inputs.map((a) => show(a[i])).join(', ')})` : '';
      expect.fail(`${what}: element ${i}${inp}: got ${show(got[i])}, expected ${show(want[i])}`);
    }
  }
}

/**
 * Asserts closeness: within `ulps` float32 ulps, or within `abs` absolute
 * error (for results that cancel to near zero). NaN must match NaN.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string,
                            tol: { ulps: number; abs?: number }, inputs?: ArrayLike<number>[]): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const abs = tol.abs ?? 0;
  for (let i = 0; i < want.length; i++) {
    const d = ulpDistance(got[i], want[i]);
    if (d <= tol.ulps) continue;
    if (d !== Infinity && Math.abs(got[i] - want[i]) <= abs) continue;
    if (got[i] === want[i]) continue;
    const inp = inputs ? ` (inputs ${inputs.map((a) => show(a[i])).join(', ')})` : '';
    expect.fail(`${what}: element ${i}${inp}: got ${show(got[i])}, expected ${show(want[i])} (${d} ulps, tolerance ${tol.ulps} ulps / ${abs} absolute)`);
  }
}

/** Runs an elementwise kernel (x, y) over a copy of x; returns y. */
export function run2(kernel: (x: number, y: number) => void, x: Float32Array): Float32Array {
  return withArena((a) => {
    const py = a.alloc(4 * x.length);
    kernel(a.put(x), py);
    return a.readF32(py, x.length);
  });
}

/** Runs a backward kernel (x, dy, dx) over copies of x and dy; returns dx. */
export function run3(kernel: (x: number, dy: number, dx: number) => void, x: Float32Array, dy: Float32Array): Float32Array {
  return withArena((a) => {
    const pdx = a.alloc(4 * x.length);
    kernel(a.put(x), a.put(dy), pdx);
    return a.readF32(pdx, x.length);
  });
}

/** Row-major element strides. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

/** An output tile of a GEMM: rows m0..m1, columns n0..n1 (half-open). */
export type Tile = { m0: number; m1: number; n0: number; n1: number };

/** Rows and columns cut at the given points; every rectangle of the grid, in a shuffled order. */
export function gridTiles(M: number, N: number, rowCuts: number[], colCuts: number[], seed: number): Tile[] {
  const cuts = (xs: number[], max: number) => [...new Set([0, ...xs.filter((v) => v < max), max])].sort((a, b) => a - b);
  const rows = cuts(rowCuts, M), cols = cuts(colCuts, N);
  const tiles: Tile[] = [];
  for (let i = 0; i + 1 < rows.length; i++) for (let j = 0; j + 1 < cols.length; j++) tiles.push({ m0: rows[i], m1: rows[i + 1], n0: cols[j], n1: cols[j + 1] });
  const rng = new Prng(seed);
  for (let i = tiles.length - 1; i > 0; i--) { const k = rng.int(0, i + 1); [tiles[i], tiles[k]] = [tiles[k], tiles[i]]; }
  return tiles;
}
