import { beforeAll, describe, expect, it } from 'vitest';
import { init } from '../../src/runtime/loader.js';
import { tensor } from '../../src/tensor/creation.js';
import { markModified } from '../../src/tensor/derived.js';
import { f32View } from '../../src/runtime/views.js';
import { vqEmaUpdate, vqNearest } from '../../src/kernels/vq.js';
import { vqEmaUpdateRef, vqNearestRef } from '../../src/reference/vq.js';

// The kernel and its twin evaluate the same f32 formula in the same order, so
// indices and EMA state must agree exactly (no tolerance).

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

function randomArray(n: number, next: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 2 - 1) * scale;
  return out;
}

function nearest(z: Float32Array, N: number, c: Float32Array, K: number, D: number): Int32Array {
  const zt = tensor(z, [N, D]);
  const ct = tensor(c, [K, D]);
  const idx = vqNearest(zt, ct);
  const out = idx.dataSync() as Int32Array;
  for (const t of [zt, ct, idx]) t.dispose();
  return out;
}

beforeAll(async () => {
  await init();
});

describe('vqNearest against vqNearestRef (same formula, same order)', () => {
  it('matches exactly on hundreds of random shapes', () => {
    const dims = [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 31, 33, 61, 64, 127];
    const next = rng(21);
    let n = 0;
    for (let t = 0; t < 300; t++) {
      const pick = () => dims[Math.floor(next() * dims.length)];
      const N = pick(), D = pick();
      const K = Math.max(1, pick());
      const z = randomArray(N * D, next);
      const c = randomArray(K * D, next);
      expect(Array.from(nearest(z, N, c, K, D)), `N=${N} K=${K} D=${D}`).toEqual(Array.from(vqNearestRef(z, N, c, K, D)));
      n++;
    }
    expect(n).toBe(300);
  });

  it('matches exactly when codes are nearly equidistant (z halfway between code pairs)', () => {
    const next = rng(5);
    for (let t = 0; t < 40; t++) {
      const N = 1 + Math.floor(next() * 40), K = 2 + Math.floor(next() * 30), D = 1 + Math.floor(next() * 70);
      const c = randomArray(K * D, next);
      const z = new Float32Array(N * D);
      for (let i = 0; i < N; i++) {
        const a = Math.floor(next() * K), b = Math.floor(next() * K);
        for (let d = 0; d < D; d++) z[i * D + d] = (c[a * D + d] + c[b * D + d]) / 2 + (next() - 0.5) * 1e-6;
      }
      expect(Array.from(nearest(z, N, c, K, D))).toEqual(Array.from(vqNearestRef(z, N, c, K, D)));
    }
  });

  it('agrees with exact float64 squared distances when codes are well separated', () => {
    const next = rng(9);
    for (let t = 0; t < 30; t++) {
      const K = 1 + Math.floor(next() * 200), D = 1 + Math.floor(next() * 80), N = Math.floor(next() * 100);
      // codes on a coarse grid far apart; z = a code plus small noise
      const c = new Float32Array(K * D);
      for (let k = 0; k < K; k++) for (let d = 0; d < D; d++) c[k * D + d] = Math.round((next() * 2 - 1) * 8) + (d === 0 ? k * 20 : 0);
      const z = new Float32Array(N * D);
      for (let i = 0; i < N; i++) {
        const k = Math.floor(next() * K);
        for (let d = 0; d < D; d++) z[i * D + d] = c[k * D + d] + (next() - 0.5) * 0.5;
      }
      const want = new Int32Array(N);
      for (let i = 0; i < N; i++) {
        let best = Infinity;
        for (let k = 0; k < K; k++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += (z[i * D + d] - c[k * D + d]) ** 2;
          if (s < best) { best = s; want[i] = k; }
        }
      }
      expect(Array.from(nearest(z, N, c, K, D))).toEqual(Array.from(want));
    }
  });

  it('returns the lowest index on exact ties (duplicate codebook rows)', () => {
    const next = rng(13);
    for (const [K, D] of [[2, 1], [8, 3], [9, 4], [33, 7], [130, 16]]) {
      const base = randomArray(4 * D, next);
      const c = new Float32Array(K * D);
      // codes cycle through 4 distinct rows, so each row appears many times
      for (let k = 0; k < K; k++) for (let d = 0; d < D; d++) c[k * D + d] = base[(k % 4) * D + d];
      // query with each distinct row present in the codebook: the first copy must win
      const rows = Math.min(4, K);
      const got = Array.from(nearest(base.slice(0, rows * D), rows, c, K, D));
      expect(got).toEqual([0, 1, 2, 3].slice(0, rows));
    }
    // all-identical codes and a zero-width D: everything ties -> index 0
    expect(Array.from(nearest(new Float32Array(6), 3, new Float32Array(10), 5, 2))).toEqual([0, 0, 0]);
    expect(Array.from(nearest(new Float32Array(0), 3, new Float32Array(0), 5, 0))).toEqual([0, 0, 0]);
  });

  it('recomputes cached norms after the codebook is modified in place', () => {
    const c = tensor([[0, 0], [10, 10]]);
    const z = tensor([[9, 9]]);
    const first = vqNearest(z, c);
    expect(first.toArray()).toEqual([1]);
    f32View(c.offset, 4).set([9, 9, 100, 100]);
    markModified(c);
    const second = vqNearest(z, c);
    expect(second.toArray()).toEqual([0]);
    for (const t of [c, z, first, second]) t.dispose();
  });
});

describe('vqNearest input errors', () => {
  it('rejects bad dtypes, ranks, shapes, NaN, empty codebooks and disposed tensors', () => {
    const z = tensor([[1, 2], [3, 4]]);
    const c = tensor([[0, 0], [1, 1], [2, 2]]);
    expect(() => vqNearest(tensor([[1, 2]], undefined, { dtype: 'int32' }), c)).toThrow(/vqNearest: z must be float32, got int32/);
    expect(() => vqNearest(z, tensor([[1, 2]], undefined, { dtype: 'int8' }))).toThrow(/vqNearest: codebook must be float32/);
    expect(() => vqNearest(tensor([1, 2]), c)).toThrow(/vqNearest: z must be 2-D, got shape \[2\]/);
    expect(() => vqNearest(z, tensor([0, 0]))).toThrow(/vqNearest: codebook must be 2-D/);
    expect(() => vqNearest(z, tensor([[0, 0, 0]]))).toThrow(/vqNearest: codebook must have D = 2 columns/);
    expect(() => vqNearest(z, tensor(new Float32Array(0), [0, 2]))).toThrow(/vqNearest: codebook has no codes/);
    expect(() => vqNearest(tensor([[1, NaN]]), c)).toThrow(/vqNearest: z contains 1 NaN value/);
    const nanCodes = tensor([[0, NaN], [NaN, 1]]);
    expect(() => vqNearest(z, nanCodes)).toThrow(/vqNearest: codebook contains 2 NaN values/);
    expect(() => vqNearest(z, nanCodes)).toThrow(/NaN/); // a failed check is not cached
    expect(() => vqNearest('z' as never, c)).toThrow(/vqNearest: z must be a Tensor, got "z"/);
    const gone = tensor([[1, 1]]);
    gone.dispose();
    expect(() => vqNearest(gone, c)).toThrow(/vqNearest: z \(tensor #\d+\) was disposed/);
    expect(() => vqNearest(z, gone)).toThrow(/vqNearest: codebook \(tensor #\d+\) was disposed/);
    const empty = vqNearest(tensor(new Float32Array(0), [0, 2]), tensor(new Float32Array(0), [0, 2]));
    expect(empty.shape).toEqual([0]);
    expect(empty.dtype).toBe('int32');
  });
});

describe('vqEmaUpdate against vqEmaUpdateRef', () => {
  it('matches bit for bit on random shapes', () => {
    const next = rng(17);
    for (let t = 0; t < 120; t++) {
      const N = Math.floor(next() * 70), K = 1 + Math.floor(next() * 40), D = 1 + Math.floor(next() * 37);
      const z = randomArray(N * D, next);
      const idx = new Int32Array(N).map(() => Math.floor(next() * K));
      const size = new Float32Array(K).map(() => next() * 5);
      const embed = randomArray(K * D, next, 3);
      const code = randomArray(K * D, next);
      const decay = [0, 0.5, 0.9, 0.99, 1][t % 5];
      const epsilon = [1e-5, 1e-30, 0.1][t % 3];
      const [zt, it_, st, et, ct] = [tensor(z, [N, D]), tensor(idx, [N], { dtype: 'int32' }), tensor(size, [K]), tensor(embed, [K, D]), tensor(code, [K, D])];
      if (N === 0 && decay === 0) {
        // Every cluster size would become 0: nothing to normalize by, rejected before any write.
        expect(() => vqEmaUpdate(zt, it_, st, et, ct, { decay, epsilon })).toThrow(/vqEmaUpdate: the total cluster size after this update is 0/);
        for (const x of [zt, it_, st, et, ct]) x.dispose();
        continue;
      }
      vqEmaUpdate(zt, it_, st, et, ct, { decay, epsilon });
      vqEmaUpdateRef(z, idx, N, K, D, size, embed, code, decay, epsilon);
      expect(Array.from(st.dataSync())).toEqual(Array.from(size));
      expect(Array.from(et.dataSync())).toEqual(Array.from(embed));
      expect(Array.from(ct.dataSync())).toEqual(Array.from(code));
      for (const x of [zt, it_, st, et, ct]) x.dispose();
    }
  });

  it('moves a code to the mean of its vectors when decay = 0 and epsilon is tiny', () => {
    const z = tensor([[1, 2], [3, 4], [10, 10]]);
    const idx = tensor([0, 0, 1], [3], { dtype: 'int32' });
    const size = tensor([0, 0]), embed = tensor([[0, 0], [0, 0]]), code = tensor([[0, 0], [0, 0]]);
    vqEmaUpdate(z, idx, size, embed, code, { decay: 0, epsilon: 1e-30 });
    expect(size.toArray()).toEqual([2, 1]);
    expect(code.toArray()).toEqual([[2, 3], [10, 10]]);
  });

  it('rejects out-of-range indices, bad shapes and bad options', () => {
    const z = tensor([[1, 2]]);
    const size = tensor([0, 0]), embed = tensor([[0, 0], [0, 0]]), code = tensor([[0, 0], [0, 0]]);
    const good = tensor([1], [1], { dtype: 'int32' });
    expect(() => vqEmaUpdate(z, tensor([2], [1], { dtype: 'int32' }), size, embed, code, { decay: 0.9, epsilon: 1e-5 })).toThrow(/vqEmaUpdate: indices\[0\] must be in \[0, 2\), got 2/);
    expect(() => vqEmaUpdate(z, tensor([1]), size, embed, code, { decay: 0.9, epsilon: 1e-5 })).toThrow(/indices must be int32/);
    expect(() => vqEmaUpdate(z, good, tensor([0, 0, 0]), embed, code, { decay: 0.9, epsilon: 1e-5 })).toThrow(/clusterSize must be \[2\]/);
    expect(() => vqEmaUpdate(z, good, size, tensor([[0, 0]]), code, { decay: 0.9, epsilon: 1e-5 })).toThrow(/embedSum must be \[2, 2\]/);
    expect(() => vqEmaUpdate(z, good, size, embed, code, { decay: 1.5, epsilon: 1e-5 })).toThrow(/decay must be <= 1/);
    expect(() => vqEmaUpdate(z, good, size, embed, code, { decay: 0.9, epsilon: -1 })).toThrow(/epsilon must be > 0/);
    expect(() => vqEmaUpdate(tensor([[NaN, 0]]), good, size, embed, code, { decay: 0.9, epsilon: 1e-5 })).toThrow(/z contains 1 NaN/);
  });
});
