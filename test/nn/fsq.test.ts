// nn.FSQ (Mentzer et al. 2023) against hand-computed levels, float64 references
// of the bound and its straight-through gradient, the mixed-radix index both
// ways, bad input, memory, and freeze/summary.
import { describe, expect, test } from 'vitest';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const own = disposeAfterEach();

/** The bound in float64: tanh(z + atanh(o/a))·a − o, a = (L − 1)(1 − 1e-3)/2, o = 0.5 for even L. */
function bound64(z: number, L: number): { b: number; db: number } {
  const a = ((L - 1) * (1 - 1e-3)) / 2;
  const o = L % 2 === 0 ? 0.5 : 0;
  const t = Math.tanh(z + Math.atanh(o / a));
  return { b: t * a - o, db: a * (1 - t * t) };
}

describe('nn.FSQ', () => {
  test('hand-computed codes for an odd (5) and an even (4) level count', () => {
    const fsq = own(new sg.nn.FSQ([5, 4]));
    // L = 5: round(1.998·tanh(z))/2.  z = 0.3 -> 0.582 -> 1 -> 0.5;  0.2 -> 0.394 -> 0;  -0.7 -> -1.208 -> -1 -> -0.5;  1.2 -> 1.666 -> 2 -> 1;  10 -> 1;  -10 -> -1.
    // L = 4: round(1.4985·tanh(z + 0.3469) − 0.5)/2.  z = 0.3 -> 0.353 -> 0;  0.6 -> 0.606 -> 1 -> 0.5;  -0.5 -> -0.728 -> -1 -> -0.5;  -2 -> -1.893 -> -2 -> -1;  10 -> 0.9985 -> 0.5;  0 -> 0.
    const z = [0.3, 0.3, 0.2, 0.6, -0.7, -0.5, 1.2, -2, 10, 10, -10, 0];
    const want = [0.5, 0, 0, 0.5, -0.5, -0.5, 1, -1, 1, 0.5, -1, 0];
    sg.tidy(() => {
      const { codes, indices } = fsq.quantize(sg.tensor(z, [6, 2]));
      expect(Array.from(codes.dataSync())).toEqual(want);
      // index = level0 + 5·level1, level = code·h + h (h = 2 for both).
      expect(Array.from(indices.dataSync())).toEqual([3 + 5 * 2, 2 + 5 * 3, 1 + 5 * 1, 4 + 5 * 0, 4 + 5 * 3, 0 + 5 * 2]);
    });
  });

  test('every level count L takes exactly its L values, in [-1, 1], and z = 0 is code 0', () => {
    const levels = [3, 4, 5, 6, 7, 8, 9, 16];
    const fsq = own(new sg.nn.FSQ(levels));
    const N = 4001;
    const z = new Float32Array(N * levels.length);
    for (let n = 0; n < N; n++) for (let c = 0; c < levels.length; c++) z[n * levels.length + c] = -8 + (16 * n) / (N - 1);
    const codes = sg.tidy(() => fsq.forward(sg.tensor(z, [N, levels.length])).dataSync());
    levels.forEach((L, c) => {
      const h = Math.floor(L / 2);
      const seen = new Set<number>();
      for (let n = 0; n < N; n++) seen.add(codes[n * levels.length + c]);
      const want = Array.from({ length: L }, (_, k) => Math.fround((k - h) * Math.fround(1 / h)));
      expect([...seen].sort((a, b) => a - b), `L = ${L}`).toEqual(want);
      // 0 or −0 (for even L the float32 bound of z = 0 is within an ulp of 0).
      expect(codes[2000 * levels.length + c] === 0, `L = ${L} at z = 0`).toBe(true);
    });
  });

  test('forward matches the float64 bound and the gradient is the straight-through surrogate a·(1 − tanh²)/h exactly', () => {
    const levels = [8, 5, 5, 5];
    const fsq = own(new sg.nn.FSQ(levels));
    const N = 37;
    const D = levels.length;
    const zs = seededArray(N * D, 3, -3, 3);
    const w = seededArray(N * D, 4, -1, 1);
    sg.tidy(() => {
      const z = sg.tensor(zs, [N, D], { requiresGrad: true });
      const codes = fsq.forward(z);
      sg.sum(sg.mul(codes, sg.tensor(w, [N, D]))).backward();
      const got = codes.dataSync();
      const grad = z.grad!.dataSync();
      for (let i = 0; i < N * D; i++) {
        const L = levels[i % D];
        const h = Math.floor(L / 2);
        const { b, db } = bound64(zs[i], L);
        // Off the rounding boundaries (none within 1e-4 here), the float32 bound rounds like the float64 one.
        expect(Math.abs(b - Math.round(b) - 0.5 * Math.sign(b - Math.round(b))) > 1e-4).toBe(true);
        expect(got[i]).toBe(Math.fround(Math.round(b) * Math.fround(1 / h)));
        const want = (w[i] * db) / h;
        expect(Math.abs(grad[i] - want)).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(want)));
      }
    });
  });

  test('indices <-> codes: a round trip over the whole codebook of [8, 6, 5], the same bits as quantize, mixed radix by hand', () => {
    const fsq = own(new sg.nn.FSQ([8, 6, 5]));
    expect(fsq.codebookSize).toBe(240);
    expect(fsq.basis).toEqual([1, 8, 48]);
    sg.tidy(() => {
      const all = sg.tensor(Array.from({ length: 240 }, (_, i) => i), [240], { dtype: 'int32' });
      const codes = fsq.indicesToCodes(all);
      expect(codes.shape).toEqual([240, 3]);
      expect(Array.from(fsq.codesToIndices(codes).dataSync())).toEqual(Array.from({ length: 240 }, (_, i) => i));
      // index 3 + 8·2 + 48·4 = 211: levels (3, 2, 4) -> codes ((3 − 4)/4, (2 − 3)/3, (4 − 2)/2).
      expect(Array.from(codes.dataSync().subarray(211 * 3, 212 * 3))).toEqual([-0.25, Math.fround(-1 / 3), 1]);
      // quantize's codes decode from its indices to the same bits, on [B, T, d] input.
      const z = sg.tensor(seededArray(2 * 7 * 3, 9, -4, 4), [2, 7, 3]);
      const q = fsq.quantize(z);
      expect(q.indices.shape).toEqual([2, 7]);
      expect(Array.from(fsq.indicesToCodes(q.indices).dataSync())).toEqual(Array.from(q.codes.dataSync()));
    });
  });

  test('the recommended level sets of the paper (Table 1) and their codebook sizes', () => {
    const want: Record<number, [number[], number]> = { 8: [[8, 6, 5], 240], 10: [[8, 5, 5, 5], 1000], 12: [[7, 5, 5, 5, 5], 4375], 14: [[8, 8, 8, 6, 5], 15360], 16: [[8, 8, 8, 5, 5, 5], 64000] };
    for (const [bits, [levels, size]] of Object.entries(want)) {
      expect(sg.nn.FSQ.recommendedLevels[Number(bits) as 8]).toEqual(levels);
      const fsq = new sg.nn.FSQ(levels);
      expect(fsq.codebookSize).toBe(size);
      // Close to 2^bits, not at most: 4375 for 2^12.
      expect(Math.abs(Math.log2(size) - Number(bits))).toBeLessThan(0.1);
      fsq.dispose();
    }
  });

  test('bad input: errors name the layer, the argument and what was expected; nothing leaks', () => {
    expect(() => new sg.nn.FSQ([])).toThrow(/FSQ: levels must be an array of 1\.\.32 integers >= 3/);
    expect(() => new sg.nn.FSQ([8, 2])).toThrow(/FSQ: levels\[1\] must be an integer >= 3 \(the values that channel takes; for 2 values per channel use nn\.LFQ\)/);
    expect(() => new sg.nn.FSQ([8, 2.5])).toThrow(/FSQ: levels\[1\] must be an integer >= 3/);
    expect(() => new sg.nn.FSQ(Array(19).fill(3))).toThrow(/more than 2\^30 codes/);
    const fsq = own(new sg.nn.FSQ([5, 4]));
    sg.tidy(() => {
      expect(() => fsq.forward(sg.tensor([1, 2, 3], [1, 3]))).toThrow(/FSQ\.forward: z must have shape \[\.\.\., 2\] \(one channel per level of \[5,4\]\), got \[1,3\]/);
      expect(() => fsq.quantize(sg.tensor([NaN, 0], [1, 2]))).toThrow(/FSQ\.quantize: z contains 1 NaN value/);
      expect(() => fsq.forward(sg.tensor([1, 2], [1, 2], { dtype: 'int32' }))).toThrow(/FSQ\.forward: z must be float32/);
      expect(() => fsq.indicesToCodes(sg.tensor([20], [1], { dtype: 'int32' }))).toThrow(/FSQ\.indicesToCodes: indices\[0\] = 20 is outside \[0, 20\)/);
      expect(() => fsq.indicesToCodes(sg.tensor([1], [1]))).toThrow(/FSQ\.indicesToCodes: indices must be int32/);
      expect(() => fsq.codesToIndices(sg.tensor([0.25, 0], [1, 2]))).toThrow(/FSQ\.codesToIndices: codes element 0 \(channel 0\) is 0\.25, not one of channel 0's 5 values/);
    });
    const gone = new sg.nn.FSQ([3]);
    gone.dispose();
    sg.tidy(() => expect(() => gone.forward(sg.tensor([0], [1, 1]))).toThrow(/FSQ\.forward: the layer's buffer "shift" \(tensor #\d+\) was disposed/));
  });

  test('memory is flat over training steps; an FSQ autoencoder learns (loss falls)', () => {
    const enc = own(new sg.nn.Linear(6, 3, { seed: 1 }));
    const fsq = own(new sg.nn.FSQ([7, 5, 5]));
    const dec = own(new sg.nn.Linear(3, 6, { seed: 2 }));
    const opt = new sg.optim.Adam([...enc.parameters(), ...dec.parameters()], { lr: 0.02 });
    const x = own(sg.keep(sg.tensor(seededArray(64 * 6, 5, -1, 1), [64, 6])));
    const losses: number[] = [];
    let alive = 0;
    for (let step = 0; step < 150; step++) {
      sg.tidy(() => {
        opt.zeroGrad();
        const loss = sg.mse(dec.forward(fsq.forward(enc.forward(x))), x);
        loss.backward();
        opt.step();
        losses.push(loss.item());
      });
      if (step === 10) alive = sg.memoryStats().tensorsAlive;
    }
    expect(sg.memoryStats().tensorsAlive).toBe(alive);
    expect(losses[149]).toBeLessThan(0.6 * losses[0]);
    opt.dispose?.();
  });

  test('freeze replays the eval forward as float op stages (same bits); summary counts it', () => {
    const model = own(new sg.nn.Sequential(new sg.nn.Linear(4, 3, { seed: 3 }), new sg.nn.FSQ([8, 5, 3])));
    model.eval();
    const frozen = own(sg.freeze(model));
    sg.tidy(() => {
      const x = sg.tensor(seededArray(9 * 4, 6, -2, 2), [9, 4]);
      expect(Array.from(frozen.predict(x).dataSync())).toEqual(Array.from(model.forward(x).dataSync()));
    });
    const s = sg.summary(model);
    expect(s.layers.map((l) => l.type)).toContain('FSQ');
    // A state saved from an FSQ of other levels is refused, and nothing changes.
    const other = own(new sg.nn.FSQ([8, 5, 4]));
    expect(() => model.layers[1].loadStateDict(other.stateDict())).toThrow(/loadStateDict: state\["\w+"\] is not the FSQ constant of levels \[8,5,3\]/);
  });
});

test('FSQ checks every level before the code count, so a bad entry after a huge one is named', () => {
  expect(() => new sg.nn.FSQ([2 ** 31, 0, 5] as number[])).toThrow(/FSQ: levels\[1\] must be an integer >= 3/);
  expect(() => new sg.nn.FSQ([2 ** 16, 2 ** 16])).toThrow(/FSQ: levels \[65536,65536\] give more than 2\^30 codes/);
});
