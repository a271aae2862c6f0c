// Bit-identity across thread counts: run a computation at 1, 2, 3 and 4
// threads with every call split, and compare the output bytes.
import { afterAll, beforeAll, expect } from 'vitest';
import * as sg from '../../src/index.js';
import { rt } from '../../src/runtime/context.js';
import { PARALLEL_MIN_COST } from '../../src/runtime/parallel.js';

export const THREADS = [1, 2, 3, 4];

/** Initializes the runtime before a file's tests and restores the default thread pool after them. */
export function useThreadSweep(): void {
  beforeAll(async () => {
    await sg.init();
  });
  afterAll(async () => {
    await sg.setThreads(2, { minParallelCost: PARALLEL_MIN_COST });
  });
}

/**
 * Runs fn at every thread count with every call split; returns the outputs as
 * byte arrays per thread count. `splits`: whether some call is big enough for
 * two tiles (a single tile stays on the calling thread).
 */
export async function atEveryThreadCount(fn: () => ArrayBufferView[], splits = true): Promise<Uint8Array[][]> {
  const out: Uint8Array[][] = [];
  for (const t of THREADS) {
    await sg.setThreads(t, { minParallelCost: 0 });
    const before = { ...rt().pool!.stats };
    const views = fn();
    const after = rt().pool!.stats;
    if (t > 1 && splits) expect(after.jobs, `${t} threads: no call went to the pool`).toBeGreaterThan(before.jobs);
    out.push(views.map((v) => new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength))));
  }
  return out;
}

/** Every thread count's outputs equal the 1-thread outputs, byte for byte. */
export function expectSameBits(runs: Uint8Array[][]): void {
  for (let t = 1; t < runs.length; t++) {
    runs[t].forEach((bytes, i) => expect(Buffer.from(bytes).equals(Buffer.from(runs[0][i])), `output ${i} at ${THREADS[t]} threads differs from 1 thread`).toBe(true));
  }
}

/** Deterministic values from a small LCG (independent of the library's RNG): in [lo, hi), or integers in [lo, hi]. */
export function values(n: number, seed: number, lo = -1, hi = 1, integer = false): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    out[i] = integer ? Math.floor(lo + u * (hi - lo + 1)) : lo + u * (hi - lo);
  }
  return out;
}
