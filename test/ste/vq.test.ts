import { expect, test } from 'vitest';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const z0 = [[0.9, 0.1], [-1.2, 0.8], [0.1, -0.9], [0.5, 0.5]];
// Row 3 is exactly between codes 0 ([1, 0]) and 3 ([0, 1]): the tie goes to the lower index.
const c0 = [[1, 0], [-1, 1], [0, -1], [0, 1]];

test('seed VQ example: nearest row by squared L2 (ties -> lowest index), zq equals those rows', () => {
  sg.tidy(() => {
    const z = sg.tensor(z0);
    const codebook = sg.tensor(c0);
    const { zq, indices } = sg.ste.vq(z, codebook);
    // squared distances computed here in float64
    const want = z0.map((row) => {
      const d = c0.map((c) => (row[0] - c[0]) ** 2 + (row[1] - c[1]) ** 2);
      return d.indexOf(Math.min(...d));
    });
    expect(want).toEqual([0, 1, 2, 0]);
    expect(indices.toArray()).toEqual(want);
    expect(indices.dtype).toBe('int32');
    expect(zq.toArray()).toEqual(want.map((k) => c0[k]));
  });
});

test('dL/dz equals dL/dzq exactly; the codebook gets no gradient through zq', () => {
  sg.tidy(() => {
    const z = sg.tensor(z0, undefined, { requiresGrad: true });
    const codebook = sg.tensor(c0, undefined, { requiresGrad: true });
    const { zq } = sg.ste.vq(z, codebook);
    const dzq = [[0.3, -1.7], [2, 0.25], [-0.5, 1e-3], [7, -3]];
    zq.backward(sg.tensor(dzq));
    expect(z.grad!.toArray()).toEqual(dzq.map((r) => r.map(Math.fround)));
    expect(codebook.grad).toBeNull();
  });
});

test('the codebook is trained only through codebookLoss = mean((sg(z) - zq)^2); commitment = beta mean((z - sg(zq))^2)', () => {
  sg.tidy(() => {
    const z = sg.tensor(z0, undefined, { requiresGrad: true });
    const codebook = sg.tensor(c0, undefined, { requiresGrad: true });
    const beta = 0.25;
    const { indices, codebookLoss, commitmentLoss } = sg.ste.vq(z, codebook, { beta });
    const idx = indices.toArray() as number[];
    const n = 4 * 2;
    let sq = 0;
    z0.forEach((row, i) => row.forEach((v, j) => (sq += (Math.fround(v) - c0[idx[i]][j]) ** 2)));
    expect(codebookLoss.item()).toBeCloseTo(sq / n, 6);
    expect(commitmentLoss.item()).toBeCloseTo((beta * sq) / n, 6);

    codebookLoss.backward();
    expect(z.grad).toBeNull(); // stopGradient(z): the encoder gets nothing from this loss
    const want = c0.map((c, k) => c.map((v, j) => idx.reduce((s, ik, i) => s + (ik === k ? (2 * (v - Math.fround(z0[i][j]))) / n : 0), 0)));
    const got = codebook.grad!.toArray();
    want.forEach((row, k) => row.forEach((v, j) => expect(got[k][j]).toBeCloseTo(v, 6)));
    expect(got[3]).toEqual([0, 0]); // an unused code gets no gradient

    commitmentLoss.backward();
    const gz = z.grad!.toArray();
    z0.forEach((row, i) => row.forEach((v, j) => expect(gz[i][j]).toBeCloseTo((beta * 2 * (Math.fround(v) - c0[idx[i]][j])) / n, 6)));
    // the codebook gradient did not change: commitment uses stopGradient(zq)
    expect(codebook.grad!.toArray()).toEqual(got);
  });
});

test('vq rejects bad input by name', () => {
  sg.tidy(() => {
    expect(() => sg.ste.vq(sg.zeros([3, 2]), sg.zeros([4, 3]))).toThrow(/^ste\.vq: codebook must have D = 2 columns like z/);
    expect(() => sg.ste.vq(sg.tensor([[NaN, 1]]), sg.zeros([4, 2]))).toThrow(/^ste\.vq: z contains 1 NaN value/);
    expect(() => sg.ste.vq(sg.zeros([3, 2]), sg.zeros([4, 2]), { beta: -1 })).toThrow(/^ste\.vq: beta must be >= 0, got -1/);
    expect(() => sg.ste.vq(sg.zeros([3]), sg.zeros([4, 2]))).toThrow(/^ste\.vq: z must be 2-D, got shape \[3\]/);
  });
});
