import { describe, expect, test } from 'vitest';
import { windowGeometry, type Padding2d } from '../../src/ops/conv-geometry.js';
import { f32AvgPool2dBackwardRef, f32AvgPool2dRef, f32MaxPool2dBackwardRef, f32MaxPool2dRef } from '../../src/reference/pool.js';
import { errorOf } from '../support/errors.js';
import { kernels, Prng, withArena } from '../support/kernel-harness.js';
import { expectOpMemory } from '../support/memory.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

interface Case { shape: [number, number, number, number]; size: number | [number, number]; stride?: number | [number, number]; padding?: Padding2d }

// Shapes that break naive code: empty batch, 1x1 images, windows larger than the input
// with 'same', odd and unequal strides, primes, C in every SIMD tail (and 0), overlapping
// windows (stride < size), explicit asymmetric padding.
const CASES: Case[] = [
  { shape: [0, 3, 3, 5], size: 2 },
  { shape: [1, 1, 1, 1], size: 1 },
  { shape: [2, 1, 1, 7], size: 3, padding: 'same' },
  { shape: [1, 2, 3, 5], size: 5, padding: 'same' },
  { shape: [3, 1, 5, 3], size: [1, 4], stride: [1, 3], padding: 'same' },
  { shape: [2, 7, 5, 6], size: 3, stride: 3, padding: 'same' },
  { shape: [1, 7, 11, 9], size: [3, 2], stride: [2, 3] },
  { shape: [3, 11, 13, 7], size: [3, 2], stride: [2, 1], padding: [[1, 2], [0, 1]] },
  { shape: [2, 6, 6, 13], size: 3, stride: 1, padding: 'same' },
  { shape: [1, 5, 7, 4], size: 3, stride: 2 },
  { shape: [2, 9, 9, 2], size: 4, stride: 3, padding: 'same' },
  { shape: [1, 3, 3, 33], size: 2, stride: 1 },
  { shape: [2, 4, 4, 64], size: 2 },
  { shape: [1, 5, 5, 0], size: 2, padding: 'same' },
  { shape: [1, 13, 1, 31], size: [5, 1], stride: [2, 1], padding: [[4, 3], [0, 0]] },
];

function geometryOf(c: Case) {
  const [kh, kw] = typeof c.size === 'number' ? [c.size, c.size] : c.size;
  return windowGeometry('test', c.shape[1], c.shape[2], kh, kw, { stride: c.stride, padding: c.padding }, { stride: [kh, kw] });
}

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('pool kernels equal their scalar twins bit for bit (canary-guarded buffers)', () => {
  test('max pool forward (values and argmax cells) and backward', () => {
    const rng = new Prng(7);
    for (const c of CASES) {
      const [N, H, W, C] = c.shape;
      const g = geometryOf(c);
      const d = { N, H, W, C };
      // Small integers: many ties, so the first-maximum rule is exercised; a few NaN.
      const x = Float32Array.from({ length: sizeOf(c.shape) }, () => (rng.bool(0.05) ? NaN : rng.int(-3, 4)));
      const want = f32MaxPool2dRef(x, d, g);
      const outLen = N * g.outH * g.outW * C;
      const dy = rng.f32Array(outLen, -2, 2);
      const tag = JSON.stringify(c);
      withArena((a) => {
        const xo = a.put(x);
        const yo = a.alloc(outLen * 4);
        const io = a.alloc(outLen * 4);
        kernels().f32_maxpool2d(xo, yo, io, N, H, W, C, g.kh, g.kw, g.strideH, g.strideW, g.padTop, g.padLeft, g.outH, g.outW);
        expect(Array.from(a.readF32(yo, outLen)), tag).toEqual(Array.from(want.y));
        expect(Array.from(a.readI32(io, outLen)), tag).toEqual(Array.from(want.indices));
        // Without indices the values are the same and nothing else is written.
        const y2 = a.alloc(outLen * 4);
        kernels().f32_maxpool2d(xo, y2, 0, N, H, W, C, g.kh, g.kw, g.strideH, g.strideW, g.padTop, g.padLeft, g.outH, g.outW);
        expect(Array.from(a.readF32(y2, outLen)), tag).toEqual(Array.from(want.y));
        const dxo = a.alloc(x.length * 4);
        kernels().f32_maxpool2d_backward(a.put(dy), a.put(want.indices), dxo, N, H * W, g.outH * g.outW, C);
        expect(Array.from(a.readF32(dxo, x.length)), tag).toEqual(Array.from(f32MaxPool2dBackwardRef(dy, want.indices, d, g.outH * g.outW)));
      });
    }
  });

  test('average pool forward and backward', () => {
    const rng = new Prng(11);
    for (const c of CASES) {
      const [N, H, W, C] = c.shape;
      const g = geometryOf(c);
      const d = { N, H, W, C };
      const x = rng.f32Array(sizeOf(c.shape), -5, 5);
      const outLen = N * g.outH * g.outW * C;
      const dy = rng.f32Array(outLen, -2, 2);
      const tag = JSON.stringify(c);
      withArena((a) => {
        const yo = a.alloc(outLen * 4);
        kernels().f32_avgpool2d(a.put(x), yo, N, H, W, C, g.kh, g.kw, g.strideH, g.strideW, g.padTop, g.padLeft, g.outH, g.outW);
        expect(Array.from(a.readF32(yo, outLen)), tag).toEqual(Array.from(f32AvgPool2dRef(x, d, g)));
        const dxo = a.alloc(x.length * 4);
        kernels().f32_avgpool2d_backward(a.put(dy), dxo, N, H, W, C, g.kh, g.kw, g.strideH, g.strideW, g.padTop, g.padLeft, g.outH, g.outW);
        expect(Array.from(a.readF32(dxo, x.length)), tag).toEqual(Array.from(f32AvgPool2dBackwardRef(dy, d, g)));
      });
    }
  });

  test('the ops run the kernels: maxPool2d/avgPool2d values and gradients equal the twins', () => {
    const rng = new Prng(3);
    for (const c of CASES) {
      const [N, H, W, C] = c.shape;
      const g = geometryOf(c);
      const d = { N, H, W, C };
      const data = rng.f32Array(sizeOf(c.shape), -4, 4);
      const opts = { size: c.size, stride: c.stride, padding: c.padding };
      const tag = JSON.stringify(c);
      sg.tidy(() => {
        const x = sg.tensor(data, c.shape, { requiresGrad: true });
        const dyData = rng.f32Array(N * g.outH * g.outW * C, -1, 1);
        const dy = sg.tensor(dyData, [N, g.outH, g.outW, C]);
        const m = sg.maxPool2d(x, opts);
        expect(m.shape, tag).toEqual([N, g.outH, g.outW, C]);
        const wantMax = f32MaxPool2dRef(data, d, g);
        expect(Array.from(m.dataSync()), tag).toEqual(Array.from(wantMax.y));
        m.backward(dy);
        expect(Array.from(x.grad!.dataSync()), tag).toEqual(Array.from(f32MaxPool2dBackwardRef(dyData, wantMax.indices, d, g.outH * g.outW)));
        x.grad!.dispose();
        x.grad = null;
        const a = sg.avgPool2d(x, opts);
        expect(Array.from(a.dataSync()), tag).toEqual(Array.from(f32AvgPool2dRef(data, d, g)));
        a.backward(dy);
        expect(Array.from(x.grad!.dataSync()), tag).toEqual(Array.from(f32AvgPool2dBackwardRef(dyData, d, g)));
        x.grad!.dispose();
        x.grad = null;
      });
    }
  });
});

describe('hand-computed values', () => {
  test('2x2 windows on a 4x4 ramp', () => {
    sg.tidy(() => {
      const x = sg.tensor(Array.from({ length: 16 }, (_, i) => i), [1, 4, 4, 1]);
      expect(sg.maxPool2d(x, { size: 2 }).toArray()).toEqual([[[[5], [7]], [[13], [15]]]]);
      expect(sg.avgPool2d(x, { size: 2 }).toArray()).toEqual([[[[2.5], [4.5]], [[10.5], [12.5]]]]);
      // Stride 1 ('valid'): 3x3 outputs; overlapping windows.
      expect(sg.maxPool2d(x, { size: 2, stride: 1 }).dataSync()).toEqual(Float32Array.from([5, 6, 7, 9, 10, 11, 13, 14, 15]));
      expect(sg.globalAvgPool2d(x).toArray()).toEqual([[7.5]]);
    });
  });

  test("'same' padding: padded cells are neither a max nor counted in a mean (TF/Keras; PyTorch's count_include_pad=True would give 2.25 at [0, 1])", () => {
    sg.tidy(() => {
      // 3x3 image 1..9, 2x2 windows, stride 2: 'same' pads one row and one column at the bottom/right.
      const x = sg.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
      expect(sg.maxPool2d(x, { size: 2, padding: 'same' }).dataSync()).toEqual(Float32Array.from([5, 6, 8, 9]));
      expect(sg.avgPool2d(x, { size: 2, padding: 'same' }).dataSync()).toEqual(Float32Array.from([3, 4.5, 7.5, 9]));
      // A negative image: the max is never a padded zero, the mean never diluted.
      const neg = sg.tensor([-5, -7], [1, 1, 1, 2]);
      expect(sg.maxPool2d(neg, { size: 3, padding: 'same' }).dataSync()).toEqual(Float32Array.from([-5, -7]));
      expect(sg.avgPool2d(neg, { size: 3, padding: [[1, 1], [2, 2]] }).dataSync()).toEqual(Float32Array.from([-5, -7]));
    });
  });

  test('two channels pool independently; NaN never wins over a number', () => {
    sg.tidy(() => {
      // 1x2x2 image, channel 0 = [1, NaN, 3, 2], channel 1 = [NaN, NaN, NaN, NaN].
      const x = sg.tensor([1, NaN, NaN, NaN, 3, NaN, 2, NaN], [1, 2, 2, 2]);
      const y = sg.maxPool2d(x, { size: 2 }).dataSync();
      expect(y[0]).toBe(3);
      expect(y[1]).toBeNaN();
    });
  });

  test('max gradient: to the first maximal cell in row-major order; overlapping windows accumulate', () => {
    sg.tidy(() => {
      const ties = sg.tensor([4, 4, 4, 4, 1, 4, 4, 0, 4], [1, 3, 3, 1], { requiresGrad: true });
      sg.maxPool2d(ties, { size: 2, stride: 1 }).sum().backward();
      // Windows (0,0) cells 0,1,3,4 -> 0; (0,1) cells 1,2,4,5 -> 1; (1,0) cells 3,4,6,7 -> 3; (1,1) cells 4,5,7,8 -> 5.
      expect(Array.from(ties.grad!.dataSync())).toEqual([1, 1, 0, 1, 0, 1, 0, 0, 0]);
      const x = sg.tensor([1, 3, 2], [1, 3, 1, 1], { requiresGrad: true });
      sg.maxPool2d(x, { size: [2, 1], stride: 1 }).sum().backward();
      expect(Array.from(x.grad!.dataSync())).toEqual([0, 2, 0]);
      const a = sg.tensor([1, 3, 2], [1, 3, 1, 1], { requiresGrad: true });
      // Windows rows [0, 2) and [1, 3), 2 cells each: dy / 2 to each covered cell.
      sg.avgPool2d(a, { size: [2, 1], stride: 1 }).sum().backward();
      expect(Array.from(a.grad!.dataSync())).toEqual([0.5, 1, 0.5]);
      const gl = sg.tensor([1, 2, 3, 4, 5, 6], [1, 3, 1, 2], { requiresGrad: true });
      sg.globalAvgPool2d(gl).mul(sg.tensor([[3, 6]])).sum().backward();
      expect(Array.from(gl.grad!.dataSync())).toEqual([1, 2, 1, 2, 1, 2]);
    });
  });
});

describe('gradients against float64 finite differences', () => {
  const rng = new Prng(21);
  type T = ReturnType<typeof sg.tensor>;
  /** gradcheck of sum(f(x) * w) with fixed random weights w, so every output's gradient is checked separately. */
  const check = (f: (t: T) => T, x: T, tag: string) => {
    const w = sg.noGrad(() => sg.tidy(() => { const y = f(x); return sg.tensor(rng.f32Array(y.size, -1, 1), [...y.shape]); }));
    const r = sg.gradcheck((t) => f(t).mul(w), [x]);
    w.dispose();
    expect(r.ok, `${tag} ${JSON.stringify(r.worst)}`).toBe(true);
  };

  test('avgPool2d and globalAvgPool2d', () => {
    const cases: Case[] = [
      { shape: [2, 3, 3, 5], size: 2, stride: 1, padding: 'same' },
      { shape: [1, 5, 4, 3], size: [3, 2], stride: [2, 1], padding: [[1, 1], [1, 0]] },
      { shape: [2, 1, 1, 2], size: 3, padding: 'same' },
    ];
    for (const c of cases) {
      const x = sg.tensor(rng.f32Array(sizeOf(c.shape), -2, 2), c.shape, { requiresGrad: true });
      check((t) => sg.avgPool2d(t, { size: c.size, stride: c.stride, padding: c.padding }), x, JSON.stringify(c));
      check((t) => sg.globalAvgPool2d(t), x, `global ${JSON.stringify(c.shape)}`);
      x.dispose();
    }
  });

  test('maxPool2d on inputs without ties (values at least 0.1 apart)', () => {
    const cases: Case[] = [
      { shape: [2, 3, 3, 5], size: 2, stride: 1, padding: 'same' },
      { shape: [1, 5, 4, 3], size: [3, 2], stride: [2, 1], padding: [[1, 1], [1, 0]] },
      { shape: [1, 4, 4, 2], size: 2 },
    ];
    for (const c of cases) {
      const n = sizeOf(c.shape);
      // A shuffled ramp: distinct values 0.1 apart, far beyond gradcheck's eps (0.01).
      const values = Float32Array.from({ length: n }, (_, i) => (i - n / 2) * 0.1);
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(0, i + 1);
        [values[i], values[j]] = [values[j], values[i]];
      }
      const x = sg.tensor(values, c.shape, { requiresGrad: true });
      check((t) => sg.maxPool2d(t, { size: c.size, stride: c.stride, padding: c.padding }), x, JSON.stringify(c));
      x.dispose();
    }
  });
});

describe('bad input', () => {
  test('errors name the function, the argument and what was expected, and leak nothing', () => {
    sg.tidy(() => {
      const x = sg.zeros([1, 4, 4, 3]);
      const rank3 = sg.zeros([4, 4, 3]);
      const ints = sg.zeros([1, 4, 4, 3], { dtype: 'int32' });
      const empty = sg.zeros([2, 0, 3, 1]);
      const flat = sg.zeros([2, 3]);
      const noCols = sg.zeros([2, 3, 0, 1]);
      expect(errorOf(() => sg.maxPool2d(rank3, { size: 2 }))).toMatch(/maxPool2d: x must be an NHWC image batch \[N, H, W, C\] \(rank 4\), got shape \[4,4,3\]/);
      expect(errorOf(() => sg.avgPool2d(ints, { size: 2 }))).toMatch(/avgPool2d: x must be float32/);
      expect(errorOf(() => sg.maxPool2d(x, {} as never))).toMatch(/maxPool2d: options.size is required/);
      expect(errorOf(() => sg.maxPool2d(x, undefined as never))).toMatch(/maxPool2d: options.size is required/);
      expect(errorOf(() => sg.avgPool2d(x, { size: 0 }))).toMatch(/avgPool2d: size must be >= 1, got 0/);
      expect(errorOf(() => sg.avgPool2d(x, { size: [2, 2.5] as never }))).toMatch(/avgPool2d: size\[1\]/);
      expect(errorOf(() => sg.maxPool2d(x, { size: 2, stride: 0 }))).toMatch(/maxPool2d: stride/);
      expect(errorOf(() => sg.maxPool2d(x, { size: 5 }))).toMatch(/maxPool2d: the 5x5 window .* does not fit the padded input 4x4.*padding: 'same'/);
      expect(errorOf(() => sg.maxPool2d(x, { size: 2, padding: [[2, 0], [0, 0]] }))).toMatch(/maxPool2d: padding \[\[2, 0\], \[0, 0\]\] must be smaller than the 2x2 window/);
      expect(errorOf(() => sg.avgPool2d(x, { size: 2, padding: 'full' as never }))).toMatch(/avgPool2d: padding must be 'same', 'valid'/);
      expect(errorOf(() => sg.avgPool2d(x, { size: 2, dilation: 2 } as never))).toMatch(/avgPool2d: pooling takes no dilation/);
      expect(errorOf(() => sg.avgPool2d(x, 2 as never))).toMatch(/avgPool2d: options must be an object/);
      expect(errorOf(() => sg.maxPool2d(empty, { size: 1, padding: [[0, 0], [0, 0]] }))).toMatch(/maxPool2d: x must have at least one row and one column/);
      expect(errorOf(() => sg.globalAvgPool2d(flat))).toMatch(/globalAvgPool2d: x must be an NHWC image batch/);
      expect(errorOf(() => sg.globalAvgPool2d(noCols))).toMatch(/globalAvgPool2d: x must have at least one row and one column/);
      expect(errorOf(() => sg.globalAvgPool2d('x' as never))).toMatch(/globalAvgPool2d: x must be a Tensor/);
    });
  });
});

describe('memory', () => {
  test('each op leaves alive its output (and the max argmax cells on the tape); flat over repeated steps', () => {
    const x = sg.tensor(new Prng(5).f32Array(2 * 5 * 5 * 6), [2, 5, 5, 6], { requiresGrad: true });
    const c = sg.tensor(new Prng(6).f32Array(2 * 5 * 5 * 6), [2, 5, 5, 6]);
    expectOpMemory('maxPool2d', [x], () => sg.maxPool2d(x, { size: 3, stride: 2, padding: 'same' }), 1);
    expectOpMemory('maxPool2d no grad', [c], () => sg.maxPool2d(c, { size: 3, stride: 2, padding: 'same' }), 0);
    expectOpMemory('avgPool2d', [x], () => sg.avgPool2d(x, { size: 2, stride: 1 }), 0);
    expectOpMemory('globalAvgPool2d', [x], () => sg.globalAvgPool2d(x), 0);
    const step = () => sg.tidy(() => {
      const loss = sg.globalAvgPool2d(sg.avgPool2d(sg.maxPool2d(x, { size: 2, padding: 'same' }), { size: 2, stride: 1, padding: 'same' })).sum();
      loss.backward();
      x.grad!.dispose();
      x.grad = null;
    });
    step();
    const before = sg.memoryStats();
    for (let i = 0; i < 5; i++) step();
    expect(sg.memoryStats()).toEqual(before);
    x.dispose();
    c.dispose();
  });
});
