import { afterEach, beforeAll, beforeEach } from 'vitest';
import * as sg from '../../src/index.js';

/** Initializes snapgrad once per test file. */
export function useSnapgrad(): typeof sg {
  beforeAll(async () => {
    await sg.init();
  });
  return sg;
}

/** Fails a test that leaves tensors behind (checked after each test). */
export function expectNoLeaks(): void {
  let before = 0;
  beforeEach(() => {
    before = sg.memoryStats().tensorsAlive;
  });
  afterEach(() => {
    const now = sg.memoryStats().tensorsAlive;
    if (now !== before) throw new Error(`test leaked ${now - before} tensors`);
  });
}

/**
 * Returns own(x): x is disposed after each test. Call after expectNoLeaks():
 * after-hooks run in reverse order, so a test that fails midway still frees
 * what it owns before the leak check.
 */
export function disposeAfterEach(): <T extends { dispose(): void }>(x: T) => T {
  const owned: { dispose(): void }[] = [];
  afterEach(() => {
    while (owned.length) owned.pop()!.dispose();
  });
  return (x) => {
    owned.push(x);
    return x;
  };
}

/** Deterministic uniform floats in [lo, hi) for test inputs. */
export function seededArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}
