// where, comparisons, softplus/logSigmoid, bceWithLogits and klCategorical:
// kernels against their scalar twins on N-D broadcasts (size-0 and size-1 axes,
// tails of the 16-wide compare body), gradients against float64 finite
// differences, losses against float64 formulas, bad input and leaks.
import { describe, expect, test } from 'vitest';
import { Compare, Unary } from '../../src/kernels/codes.generated.js';
import { broadcastShapes, broadcastStrides } from '../../src/ops/broadcast.js';
import { f32CompareRef, f32UnaryRef, f32WhereRef } from '../../src/reference/elementwise.js';
import { expectClose, expectExact, kernels, Prng, SIZES, withArena } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);
const SPECIALS = [0, -0, 1, -1, 2, NaN, Infinity, -Infinity, 1e-40, 3.4e38];

/** A random output shape (rank 0-4, with 0, 1, prime and 16-tail sizes) and operand shapes that broadcast to it. */
function randomShapes(rng: Prng, operands: number): { out: number[]; shapes: number[][] } {
  const rank = rng.int(0, 5);
  const out = Array.from({ length: rank }, () => rng.pick([1, 2, 3, 5, 7, 16, 17, 33, rng.bool(0.1) ? 0 : 4]));
  const shapes = Array.from({ length: operands }, () => {
    const drop = rng.int(0, rank + 1);
    return out.slice(drop).map((d) => (rng.bool(0.3) ? 1 : d));
  });
  // The output is the broadcast of the operands (an axis all set to 1 shrinks).
  const joint = shapes.reduce((a, s) => broadcastShapes(a, s, 'test'), [] as number[]);
  return { out: joint, shapes };
}

function values(rng: Prng, n: number, shared: Float32Array): Float32Array {
  // Draw from a small pool so that equal values (eq/ne/ge/le ties) occur often.
  const x = rng.f32WithSpecials(n, -3, 3, SPECIALS, 0.2);
  for (let i = 0; i < n; i++) if (rng.bool(0.3)) x[i] = shared[rng.int(0, shared.length)];
  return x;
}

describe('comparisons', () => {
  test('gt ge lt le eq ne match the twin on 200 random N-D broadcasts with NaN, ±0 and ±Infinity', () => {
    const rng = new Prng(11);
    const pool = Float32Array.from([0, -0, 1, NaN, Infinity, 2.5]);
    for (let c = 0; c < 200; c++) {
      const { out, shapes: [sa, sb] } = randomShapes(rng, 2);
      const a = values(rng, size(sa), pool);
      const b = values(rng, size(sb), pool);
      for (const name of Object.keys(Compare) as (keyof typeof Compare)[]) {
        const want = new Uint8Array(size(out));
        f32CompareRef(Compare[name], a, b, want, out, broadcastStrides(sa, out), broadcastStrides(sb, out));
        sg.tidy(() => {
          const y = sg[name](sg.tensor(a, sa), sg.tensor(b, sb));
          expect(y.dtype).toBe('uint8');
          expect(y.shape).toEqual(out);
          expectExact(y.dataSync(), want, `${name} [${sa}] x [${sb}]`);
        });
      }
    }
  });

  test('number operands on either side, every tail of the 16-wide body, methods give the same masks', () => {
    for (const n of [0, 1, 3, 15, 16, 17, 31, 32, 33, 100]) {
      const x = Float32Array.from({ length: n }, (_, i) => (i % 7 === 3 ? NaN : (i % 5) - 2));
      sg.tidy(() => {
        const t = sg.tensor(x, [n]);
        for (const name of Object.keys(Compare) as (keyof typeof Compare)[]) {
          const right = new Uint8Array(n);
          const left = new Uint8Array(n);
          f32CompareRef(Compare[name], x, Float32Array.of(0), right, [n], [1], [0]);
          f32CompareRef(Compare[name], Float32Array.of(0), x, left, [n], [0], [1]);
          expectExact(sg[name](t, 0).dataSync(), right, `${name}(x, 0) n=${n}`);
          expectExact(sg[name](0, t).dataSync(), left, `${name}(0, x) n=${n}`);
          expectExact(t[name](0).dataSync(), right, `x.${name}(0) n=${n}`);
        }
      });
    }
  });

  test('NaN compares false except under ne, hand-checked', () => {
    sg.tidy(() => {
      const a = sg.tensor([NaN, 1, -0, Infinity], [4]);
      const b = sg.tensor([NaN, NaN, 0, Infinity], [4]);
      expect(Array.from(sg.gt(a, b).dataSync())).toEqual([0, 0, 0, 0]);
      expect(Array.from(sg.ge(a, b).dataSync())).toEqual([0, 0, 1, 1]);
      expect(Array.from(sg.eq(a, b).dataSync())).toEqual([0, 0, 1, 1]);
      expect(Array.from(sg.ne(a, b).dataSync())).toEqual([1, 1, 0, 0]);
      expect(Array.from(sg.lt(a, NaN).dataSync())).toEqual([0, 0, 0, 0]);
    });
  });

  test('bad input names the op and argument', () => {
    sg.tidy(() => {
      const a = sg.zeros([2, 3]);
      expect(() => sg.gt(a, sg.zeros([4]))).toThrow(/gt: shapes \[2,3\] and \[4\] cannot be broadcast/);
      expect(() => sg.le(a, sg.zeros([3], { dtype: 'int32' }))).toThrow(/le: b/);
      expect(() => sg.eq('x' as never, a)).toThrow(/eq: a must be a Tensor or a number/);
      expect(() => sg.ne(1, 2 as never)).toThrow(/ne: a and b are both numbers/);
      const d = sg.zeros([2]);
      d.dispose();
      expect(() => sg.lt(d, 0)).toThrow(/lt: a/);
    });
  });
});

describe('f32_compare and f32_where kernels on raw strides', () => {
  test('transposed (non-unit) strides, scalar operands and every size match the twins; no write outside the outputs', () => {
    const rng = new Prng(16);
    const cases: { dims: number[]; sc: number[]; sa: number[]; sb: number[]; na: number; nb: number; nc: number }[] = [];
    for (const n of SIZES) for (const [sa, sb] of [[1, 1], [1, 0], [0, 1], [0, 0], [2, 1], [1, 3]]) {
      cases.push({ dims: [n], sc: [rng.pick([0, 1])], sa: [sa], sb: [sb], na: sa ? sa * n + 1 : 1, nb: sb ? sb * n + 1 : 1, nc: n + 1 });
    }
    for (const [r, c] of [[3, 5], [2, 17], [7, 33], [1, 16]]) {
      // a stored [c, r] and read transposed; b a column vector; cond transposed too.
      cases.push({ dims: [r, c], sc: [1, r], sa: [1, r], sb: [1, 0], na: r * c, nb: r, nc: r * c });
    }
    for (const k of cases) {
      const total = k.dims.reduce((p, d) => p * d, 1);
      const a = rng.f32WithSpecials(k.na, -2, 2, SPECIALS);
      const b = rng.f32WithSpecials(k.nb, -2, 2, SPECIALS);
      for (let i = 0; i < a.length; i++) if (rng.bool(0.3)) a[i] = b[rng.int(0, b.length)];
      const cond = Uint8Array.from({ length: k.nc }, () => rng.pick([0, 1, 9]));
      for (const op of Object.values(Compare)) {
        const want = new Uint8Array(total);
        f32CompareRef(op, a, b, want, k.dims, k.sa, k.sb);
        const got = withArena((m) => {
          const [pd, psa, psb] = [m.i32(k.dims), m.i32(k.sa), m.i32(k.sb)];
          const out = m.alloc(total);
          kernels().f32_compare(op, m.put(a), m.put(b), out, k.dims.length, pd, psa, psb);
          return m.read(Uint8Array, out, total);
        });
        expectExact(got, want, `f32_compare op ${op} dims [${k.dims}] strides [${k.sa}] [${k.sb}]`);
      }
      const want = new Float32Array(total);
      f32WhereRef(cond, a, b, want, k.dims, k.sc, k.sa, k.sb);
      const got = withArena((m) => {
        const [pd, psc, psa, psb] = [m.i32(k.dims), m.i32(k.sc), m.i32(k.sa), m.i32(k.sb)];
        const out = m.alloc(4 * total);
        kernels().f32_where(m.put(cond), m.put(a), m.put(b), out, k.dims.length, pd, psc, psa, psb);
        return m.readF32(out, total);
      });
      expectExact(got, want, `f32_where dims [${k.dims}] strides [${k.sc}] [${k.sa}] [${k.sb}]`);
    }
  });
});

describe('where', () => {
  test('matches the twin on 200 random three-way broadcasts, uint8 and float32 cond', () => {
    const rng = new Prng(12);
    for (let c = 0; c < 200; c++) {
      const { out, shapes: [sc, sa, sb] } = randomShapes(rng, 3);
      const cond = Uint8Array.from({ length: size(sc) }, () => rng.pick([0, 1, 0, 1, 7, 255]));
      const a = rng.f32WithSpecials(size(sa), -5, 5, SPECIALS);
      const b = rng.f32WithSpecials(size(sb), -5, 5, SPECIALS);
      const want = new Float32Array(size(out));
      f32WhereRef(cond, a, b, want, out, broadcastStrides(sc, out), broadcastStrides(sa, out), broadcastStrides(sb, out));
      // The same selection from a float32 cond: nonzero (NaN included) picks a.
      const fcond = Float32Array.from(cond, (v) => (v === 0 ? rng.pick([0, -0]) : rng.pick([v, -0.5, NaN])));
      sg.tidy(() => {
        const A = sg.tensor(a, sa);
        const B = sg.tensor(b, sb);
        const y = sg.where(sg.tensor(cond, sc, { dtype: 'uint8' }), A, B);
        expect(y.shape).toEqual(out);
        expectExact(y.dataSync(), want, `where [${sc}] [${sa}] [${sb}]`);
        expectExact(sg.where(sg.tensor(fcond, sc), A, B).dataSync(), want, `where float cond [${sc}] [${sa}] [${sb}]`);
      });
    }
  });

  test('number operands and every tail of the 4-wide body', () => {
    for (const n of [0, 1, 3, 4, 5, 8, 13, 33]) {
      const cond = Uint8Array.from({ length: n }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
      const a = Float32Array.from({ length: n }, (_, i) => i + 0.5);
      sg.tidy(() => {
        const C = sg.tensor(cond, [n], { dtype: 'uint8' });
        const A = sg.tensor(a, [n]);
        expect(Array.from(sg.where(C, A, -1).dataSync())).toEqual(Array.from(a, (v, i) => (cond[i] ? v : -1)));
        expect(Array.from(sg.where(C, 2, A).dataSync())).toEqual(Array.from(a, (v, i) => (cond[i] ? 2 : v)));
      });
    }
  });

  test('gradients go to a where cond holds and to b elsewhere, summed over broadcasts (gradcheck)', () => {
    const a = sg.keep(sg.randn([3, 1, 4], { seed: 3 }));
    const b = sg.keep(sg.randn([5, 1], { seed: 4 }));
    const cond = sg.keep(sg.tidy(() => sg.gt(sg.randn([5, 4], { seed: 5 }), 0)));
    a.requiresGrad = true;
    b.requiresGrad = true;
    try {
      expect(sg.gradcheck((x, y) => sg.where(cond, x, y), [a, b]).ok).toBe(true);
      expect(sg.gradcheck((x) => sg.where(cond, x, 0), [a]).ok).toBe(true);
      // Hand-checked: d/db of sum(where(cond, a, b)) counts, per b row, the entries cond rejects over a's 3 copies.
      sg.tidy(() => {
        sg.sum(sg.where(cond, a, b)).backward();
        const c = cond.dataSync();
        const want = Array.from({ length: 5 }, (_, r) => 3 * [0, 1, 2, 3].filter((k) => c[r * 4 + k] === 0).length);
        expect(Array.from(b.grad!.dataSync())).toEqual(want);
      });
    } finally {
      for (const t of [a, b]) { t.grad?.dispose(); t.dispose(); }
      cond.dispose();
    }
  });

  test('cond may be disposed before backward; the output and its tape view of cond are all that stay alive', () => {
    const a = sg.tensor([1, 2, 3], [3], { requiresGrad: true });
    const before = sg.memoryStats().tensorsAlive;
    const cond = sg.tensor([1, 0, 1], [3], { dtype: 'uint8' });
    const y = sg.where(cond, a, 0);
    cond.dispose();
    try {
      expect(sg.memoryStats().tensorsAlive).toBe(before + 2);
      sg.tidy(() => sg.sum(y).backward());
      expect(Array.from(a.grad!.dataSync())).toEqual([1, 0, 1]);
    } finally {
      y.dispose();
      a.grad?.dispose();
      a.grad = null;
    }
    expect(sg.memoryStats().tensorsAlive).toBe(before);
    a.dispose();
    // Unrecorded (no requiresGrad): a float32 cond's temporary mask is freed at once.
    const b = sg.tensor([1, 2], [2]);
    const mid = sg.memoryStats().tensorsAlive;
    const fc = sg.tensor([0, 3], [2]);
    const z = sg.where(fc, b, -1);
    expect(Array.from(z.dataSync())).toEqual([-1, 2]);
    expect(sg.memoryStats().tensorsAlive).toBe(mid + 2);
    z.dispose();
    fc.dispose();
    b.dispose();
  });

  test('bad input names where and the argument', () => {
    sg.tidy(() => {
      const a = sg.zeros([2, 3]);
      expect(() => sg.where(sg.zeros([2, 3], { dtype: 'int32' }), a, a)).toThrow(/where: cond must be a uint8 mask or a float32 tensor, got int32/);
      expect(() => sg.where(1 as never, a, a)).toThrow(/where: cond must be/);
      expect(() => sg.where(sg.zeros([4], { dtype: 'uint8' }), a, a)).toThrow(/where: shapes/);
      expect(() => sg.where(sg.zeros([3], { dtype: 'uint8' }), a, sg.zeros([2]))).toThrow(/where: shapes/);
      expect(() => sg.where(sg.zeros([3], { dtype: 'uint8' }), a, 'b' as never)).toThrow(/where: b must be a Tensor or a number/);
    });
  });
});

describe('softplus and logSigmoid', () => {
  test('match the twin and float64 on N-D shapes with extremes; no overflow at ±1e4', () => {
    const rng = new Prng(13);
    for (const shape of [[0], [1], [2, 0, 3], [3, 1, 5], [7, 13], []]) {
      const x = rng.f32WithSpecials(size(shape), -30, 30, [0, -0, 1e4, -1e4, 88, -88, 3.4e38, -3.4e38, Infinity, -Infinity, NaN]);
      for (const name of ['softplus', 'logSigmoid'] as const) {
        const want = new Float32Array(x.length);
        f32UnaryRef(Unary[name], x, want);
        sg.tidy(() => {
          const y = sg[name](sg.tensor(x, shape));
          expect(y.shape).toEqual(shape);
          expectClose(y.dataSync(), want, `${name} [${shape}]`, { ulps: 3 }, [x]);
          expectExact(sg.tensor(x, shape)[name]().dataSync(), y.dataSync(), `x.${name}()`);
        });
      }
    }
    sg.tidy(() => {
      const y = sg.softplus(sg.tensor([1e4, -1e4, 0, -Infinity, Infinity], [5])).dataSync();
      expect(Array.from(y)).toEqual([1e4, 0, Math.fround(Math.LN2), 0, Infinity]);
      const z = sg.logSigmoid(sg.tensor([1e4, -1e4, 0], [3])).dataSync();
      expect(Array.from(z)).toEqual([0, -1e4, -Math.fround(Math.LN2)]);
    });
  });

  test('gradients pass gradcheck (σ(x) and σ(−x)) and do not overflow at large |x|', () => {
    const x = sg.keep(sg.tidy(() => sg.mul(sg.randn([2, 3, 5], { seed: 6 }), 4)));
    x.requiresGrad = true;
    try {
      expect(sg.gradcheck((t) => sg.softplus(t), [x]).ok).toBe(true);
      expect(sg.gradcheck((t) => t.logSigmoid(), [x]).ok).toBe(true);
    } finally {
      x.grad?.dispose();
      x.dispose();
    }
    const big = sg.tensor([-200, 200, 0], [3], { requiresGrad: true });
    sg.tidy(() => sg.sum(sg.softplus(big)).backward());
    expect(Array.from(big.grad!.dataSync())).toEqual([0, 1, 0.5]);
    big.grad!.dispose();
    big.grad = null;
    sg.tidy(() => sg.sum(sg.logSigmoid(big)).backward());
    expect(Array.from(big.grad!.dataSync())).toEqual([1, 0, 0.5]);
    big.grad!.dispose();
    big.dispose();
  });

  test('bad input', () => {
    sg.tidy(() => {
      expect(() => sg.softplus(sg.zeros([2], { dtype: 'int32' }))).toThrow(/softplus: x/);
      expect(() => sg.logSigmoid(null as never)).toThrow(/logSigmoid: x/);
    });
  });
});

/** float64 reference of bceWithLogits: mean of max(x,0) − x·t + log(1 + e^(−|x|)). */
function bce64(x: Float32Array, t: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.max(x[i], 0) - x[i] * t[i] + Math.log1p(Math.exp(-Math.abs(x[i])));
  return s / x.length;
}

/** float64 KL(softmax(l) ‖ softmax(p)) per row of K, averaged over rows; p null = uniform; p broadcast by row index mod its rows. */
function kl64(l: Float32Array, p: Float32Array | null, K: number): number {
  const rows = l.length / K;
  const logSoftmax = (v: ArrayLike<number>, o: number) => {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, v[o + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(v[o + k] - m);
    return Array.from({ length: K }, (_, k) => v[o + k] - m - Math.log(s));
  };
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const lq = logSoftmax(l, r * K);
    const lp = p === null ? new Array(K).fill(-Math.log(K)) : logSoftmax(p, (r % (p.length / K)) * K);
    for (let k = 0; k < K; k++) total += Math.exp(lq[k]) * (lq[k] - lp[k]);
  }
  return total / rows;
}

describe('bceWithLogits', () => {
  test('equals the float64 formula on N-D shapes, huge logits included, and matches PyTorch on a hand case', () => {
    const rng = new Prng(14);
    for (const shape of [[1], [7], [2, 3, 5], [1, 1, 1], [4, 33]]) {
      const x = rng.f32WithSpecials(size(shape), -20, 20, [0, 1e4, -1e4, 88, -88]);
      const t = Float32Array.from({ length: x.length }, () => (rng.bool(0.3) ? rng.next() : rng.int(0, 2)));
      const got = sg.tidy(() => sg.bceWithLogits(sg.tensor(x, shape), sg.tensor(t, shape)).dataSync()[0]);
      const want = bce64(x, t);
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
    }
    // torch.nn.functional.binary_cross_entropy_with_logits(tensor([-1., 0., 2.]), tensor([0., 1., 1.])) = 0.4399...
    const hand = (Math.log1p(Math.exp(-1)) + Math.LN2 + Math.log1p(Math.exp(-2))) / 3;
    sg.tidy(() => expect(sg.bceWithLogits(sg.tensor([-1, 0, 2], [3]), sg.tensor([0, 1, 1], [3])).dataSync()[0]).toBeCloseTo(hand, 6));
  });

  test('gradients to logits and targets pass gradcheck', () => {
    const x = sg.keep(sg.tidy(() => sg.mul(sg.randn([3, 1, 4], { seed: 7 }), 3)));
    const t = sg.keep(sg.rand([3, 1, 4], { seed: 8 }));
    x.requiresGrad = true;
    t.requiresGrad = true;
    try {
      expect(sg.gradcheck((a, b) => sg.bceWithLogits(a, b), [x, t]).ok).toBe(true);
    } finally {
      for (const v of [x, t]) { v.grad?.dispose(); v.dispose(); }
    }
  });

  test('bad input', () => {
    sg.tidy(() => {
      const x = sg.zeros([2, 3]);
      expect(() => sg.bceWithLogits(x, sg.zeros([3]))).toThrow(/bceWithLogits: targets must have the shape of logits \[2,3\], got \[3\]/);
      expect(() => sg.bceWithLogits(x, sg.zeros([2, 3], { dtype: 'uint8' }))).toThrow(/bceWithLogits: targets/);
      expect(() => sg.bceWithLogits(sg.zeros([0, 3]), sg.zeros([0, 3]))).toThrow(/bceWithLogits: logits .* no elements/);
    });
  });
});

describe('klCategorical', () => {
  test('equals a float64 KL on N-D logits, uniform and broadcast priors; 0 for q = p', () => {
    const rng = new Prng(15);
    for (const shape of [[5], [1, 1], [3, 7], [2, 4, 16], [2, 1, 3]]) {
      const K = shape[shape.length - 1];
      const l = rng.f32Array(size(shape), -6, 6);
      const full = rng.f32Array(size(shape), -6, 6);
      const row = rng.f32Array(K, -6, 6);
      sg.tidy(() => {
        const L = sg.tensor(l, shape);
        const tol = (w: number) => 2e-5 * Math.max(1, Math.abs(w));
        const u = sg.klCategorical(L).dataSync()[0];
        expect(Math.abs(u - kl64(l, null, K))).toBeLessThanOrEqual(tol(kl64(l, null, K)));
        const f = sg.klCategorical(L, sg.tensor(full, shape)).dataSync()[0];
        expect(Math.abs(f - kl64(l, full, K))).toBeLessThanOrEqual(tol(kl64(l, full, K)));
        const r = sg.klCategorical(L, sg.tensor(row, [K])).dataSync()[0];
        expect(Math.abs(r - kl64(l, row, K))).toBeLessThanOrEqual(tol(kl64(l, row, K)));
        expect(Math.abs(sg.klCategorical(L, L).dataSync()[0])).toBeLessThanOrEqual(1e-6);
        expect(sg.klCategorical(L).shape).toEqual([]);
      });
    }
  });

  test('gradients to logits and prior logits pass gradcheck', () => {
    const l = sg.keep(sg.randn([2, 3, 4], { seed: 9 }));
    const p = sg.keep(sg.randn([3, 4], { seed: 10 }));
    l.requiresGrad = true;
    p.requiresGrad = true;
    try {
      expect(sg.gradcheck((a, b) => sg.klCategorical(a, b), [l, p]).ok).toBe(true);
      expect(sg.gradcheck((a) => sg.klCategorical(a), [l]).ok).toBe(true);
    } finally {
      for (const v of [l, p]) { v.grad?.dispose(); v.dispose(); }
    }
  });

  test('bad input', () => {
    sg.tidy(() => {
      expect(() => sg.klCategorical(sg.zeros([]))).toThrow(/klCategorical: logits must have at least one dimension/);
      expect(() => sg.klCategorical(sg.zeros([3, 0]))).toThrow(/klCategorical: the last axis/);
      expect(() => sg.klCategorical(sg.zeros([0, 3]))).toThrow(/klCategorical: logits .* no rows/);
      expect(() => sg.klCategorical(sg.zeros([2, 3]), sg.zeros([4]))).toThrow(/klCategorical: shapes/);
      expect(() => sg.klCategorical(sg.zeros([1, 3]), sg.zeros([2, 3]))).toThrow(/klCategorical: priorLogits \(shape \[2,3\]\) must broadcast to the shape of logits \[1,3\]/);
      expect(() => sg.klCategorical(sg.zeros([2, 3]), sg.zeros([3], { dtype: 'int32' }))).toThrow(/klCategorical: priorLogits/);
    });
  });
});
