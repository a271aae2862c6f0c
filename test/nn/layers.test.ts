// nn layers against independent float64 / float32-emulating JS references:
// Linear, BinaryLinear, QuantLinear, BatchNorm1d, Dropout, Sequential,
// Flatten and the activation layers.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { f32View } from '../../src/runtime/views.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const f = Math.fround;

/** Overwrites a float32 tensor (a parameter or buffer) in place. */
function write(t: Tensor, data: ArrayLike<number>): void {
  f32View(t.offset, t.size).set(data);
  sg.markModified(t);
}

function input(data: ArrayLike<number>, shape: number[], requiresGrad = false): Tensor {
  return sg.tensor(Float32Array.from(data), shape, { requiresGrad });
}

/** a [M, K] · b [N, K]ᵀ in float64. */
function matmulBT(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[i * K + k] * b[j * K + k];
      out[i * N + j] = s;
    }
  }
  return out;
}

/** aᵀ [K, M]ᵀ... i.e. out[m, n] = Σ_b a[b, m] · c[b, n] for a [B, M], c [B, N]. */
function matmulAT(a: ArrayLike<number>, c: ArrayLike<number>, B: number, M: number, N: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let b = 0; b < B; b++) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) out[m * N + n] += a[b * M + m] * c[b * N + n];
  return out;
}

/** a [M, K] · b [K, N]. */
function matmulNN(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) out[i * N + j] += a[i * K + k] * b[k * N + j];
  return out;
}

/** |got − want| <= tol · max(1, |want|) everywhere, naming the first bad index. */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, label = ''): void {
  expect(got.length, `${label} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol * Math.max(1, Math.abs(want[i])))) {
      throw new Error(`${label}[${i}]: got ${got[i]}, want ${want[i]} (error ${err}, tolerance ${tol})`);
    }
  }
}

function expectExact(got: ArrayLike<number>, want: ArrayLike<number>, label = ''): void {
  expect(got.length, `${label} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i] + 0, want[i] + 0)) throw new Error(`${label}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

const flat = (t: Tensor): Float32Array => t.dataSync() as Float32Array;
const bin = (v: number): number => (v >= 0 ? 1 : -1);

/** Values on the grid k/step in [-range, range]: exact in float32, with zeros and ±1 among them. */
function gridArray(n: number, seed: number, step: number, range: number): Float32Array {
  const u = seededArray(n, seed, 0, 1);
  const levels = Math.round(range * step);
  return u.map((v) => (Math.floor(v * (2 * levels + 1)) - levels) / step);
}

/** Round half to even, as the library's round. */
function rhe(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Seeded shapes that hit K = 1, primes, K not a multiple of 32 and batch 1. */
function shapes(count: number, seed: number): [number, number, number][] {
  const ks = [1, 2, 3, 7, 31, 32, 33, 37, 64, 129];
  const u = seededArray(3 * count, seed, 0, 1);
  return Array.from({ length: count }, (_, i) => [1 + Math.floor(u[3 * i] * 6), ks[Math.floor(u[3 * i + 1] * ks.length)], 1 + Math.floor(u[3 * i + 2] * 9)]);
}

describe('Linear', () => {
  test('forward is x·Wᵀ + b (float64 reference) on assorted shapes, with and without bias', () => {
    for (const [i, [B, K, N]] of shapes(12, 3).entries()) {
      const lin = new sg.nn.Linear(K, N, { seed: i, bias: i % 2 === 0 });
      sg.tidy(() => {
        const xs = seededArray(B * K, 100 + i);
        const y = lin.forward(input(xs, [B, K]));
        expect(y.shape).toEqual([B, N]);
        const want = matmulBT(xs, flat(lin.weight), B, K, N);
        if (lin.bias) {
          const b = flat(lin.bias);
          for (let r = 0; r < B; r++) for (let c = 0; c < N; c++) want[r * N + c] += b[c];
        }
        expectClose(flat(y), want, 1e-5, `Linear [${B},${K}]x[${N}]`);
      });
      lin.dispose();
    }
  });

  test('weights are initialized in U(±1/√in) and a seed reproduces them', () => {
    const a = new sg.nn.Linear(50, 20, { seed: 9 });
    const b = new sg.nn.Linear(50, 20, { seed: 9 });
    const wa = flat(a.weight);
    expect(wa.every((v) => Math.abs(v) <= 1 / Math.sqrt(50))).toBe(true);
    expect(new Set(wa).size).toBeGreaterThan(900);
    expectExact(flat(b.weight), wa, 'same seed');
    expect(a.parameters()).toEqual([a.weight, a.bias]);
    a.dispose();
    b.dispose();
  });

  test('gradients for input, weight and bias pass gradcheck', () => {
    const lin = new sg.nn.Linear(5, 3, { seed: 4 });
    sg.tidy(() => {
      const x = input(seededArray(4 * 5, 5), [4, 5], true);
      const c = input(seededArray(4 * 3, 6), [4, 3]);
      const r = sg.gradcheck(() => sg.mul(lin.forward(x), c), [x, lin.weight, lin.bias!]);
      expect(r.ok, JSON.stringify(r)).toBe(true);
    });
    lin.dispose();
  });

  test('bad inputs are rejected naming the argument', () => {
    const lin = new sg.nn.Linear(3, 2);
    sg.tidy(() => {
      expect(() => lin.forward(sg.zeros([2, 4]))).toThrow(/Linear: x must have shape \[\.\.\., 3\]/);
      expect(() => lin.forward(sg.zeros([]))).toThrow(/Linear: x/);
      expect(() => lin.forward(sg.tensor([1, 2, 3], [1, 3], { dtype: 'int32' }))).toThrow(/Linear.*x/);
      const d = sg.zeros([1, 3]);
      d.dispose();
      expect(() => lin.forward(d)).toThrow(/disposed/);
    });
    expect(() => new sg.nn.Linear(0, 2)).toThrow(/inFeatures/);
    expect(() => new sg.nn.Linear(2, 1.5)).toThrow(/outFeatures/);
    lin.dispose();
  });
});

describe('BinaryLinear', () => {
  test('forward equals binarize(x)·binarize(W)ᵀ exactly (0 -> +1), on assorted shapes', () => {
    for (const [i, [B, K, N]] of shapes(16, 11).entries()) {
      const layer = new sg.nn.BinaryLinear(K, N, { seed: i });
      sg.tidy(() => {
        const w = gridArray(N * K, 200 + i, 8, 1.5);
        write(layer.weight, w);
        const xs = gridArray(B * K, 300 + i, 8, 1.5);
        const y = layer.forward(input(xs, [B, K]));
        expect(y.shape).toEqual([B, N]);
        expectExact(flat(y), matmulBT(xs.map(bin), w.map(bin), B, K, N), `[${B},${K}]x[${N}]`);
        expectExact(flat(layer.binaryWeight()), w.map(bin), 'binaryWeight');
      });
      layer.dispose();
    }
  });

  test('binarizeInputs: false keeps float inputs (x·binarize(W)ᵀ)', () => {
    const layer = new sg.nn.BinaryLinear(37, 5, { binarizeInputs: false, seed: 2 });
    sg.tidy(() => {
      const xs = seededArray(3 * 37, 7, -2, 2);
      const y = layer.forward(input(xs, [3, 37]));
      expectClose(flat(y), matmulBT(xs, flat(layer.weight).map(bin), 3, 37, 5), 1e-5);
    });
    layer.dispose();
  });

  test('uint8Inputs: the same outputs and gradients as the float path, bit for bit; other inputs throw', () => {
    // 40 output channels: two full 16-channel kernel blocks and a partial one.
    for (const [B, K, N] of [[1, 5, 3], [7, 37, 40], [16, 784, 17]]) {
      const plain = new sg.nn.BinaryLinear(K, N, { binarizeInputs: false, bias: true, scale: true, seed: 9 });
      const fast = new sg.nn.BinaryLinear(K, N, { binarizeInputs: false, uint8Inputs: true, bias: true, scale: true, seed: 9 });
      write(plain.bias!, seededArray(N, 10, -1, 1));
      write(fast.bias!, seededArray(N, 10, -1, 1));
      const xs = seededArray(B * K, 11, 0, 256).map(Math.floor);
      xs[0] = 255;
      const dys = seededArray(B * N, 12, -1, 1);
      const run = (layer: InstanceType<typeof sg.nn.BinaryLinear>) => sg.tidy(() => {
        const y = layer.forward(input(xs, [B, K]));
        sg.sum(sg.mul(y, input(dys, [B, N]))).backward();
        const out = { y: flat(y), dw: flat(layer.weight.grad!), db: flat(layer.bias!.grad!) };
        layer.weight.grad!.dispose();
        layer.bias!.grad!.dispose();
        layer.weight.grad = null;
        layer.bias!.grad = null;
        return out;
      });
      const a = run(plain), b = run(fast);
      expect(b.y).toEqual(a.y);
      expect(b.dw).toEqual(a.dw);
      expect(b.db).toEqual(a.db);
      plain.dispose();
      fast.dispose();
    }
    expect(() => new sg.nn.BinaryLinear(3, 2, { uint8Inputs: true })).toThrow(/BinaryLinear: uint8Inputs needs binarizeInputs: false/);
    const layer = new sg.nn.BinaryLinear(20, 2, { binarizeInputs: false, uint8Inputs: true });
    sg.tidy(() => {
      expect(() => layer.forward(input(new Array(20).fill(0.5), [1, 20]))).toThrow(/BinaryLinear: x must hold integers in \[0, 255\] \(e\.g\. raw pixels\); 20 values are not/);
      expect(() => layer.forward(input([...new Array(19).fill(3), 256], [1, 20]))).toThrow(/1 value is not/);
    });
    layer.dispose();
  });

  test('scale: true multiplies each output channel by mean|W_c|; bias is added', () => {
    const [B, K, N] = [4, 33, 6];
    const layer = new sg.nn.BinaryLinear(K, N, { scale: true, bias: true, seed: 3 });
    sg.tidy(() => {
      const w = seededArray(N * K, 12, -1.3, 1.3);
      write(layer.weight, w);
      const bias = seededArray(N, 13);
      write(layer.bias!, bias);
      const xs = seededArray(B * K, 14);
      const y = layer.forward(input(xs, [B, K]));
      const want = matmulBT(xs.map(bin), w.map(bin), B, K, N);
      const scales = Array.from({ length: N }, (_, c) => w.subarray(c * K, c * K + K).reduce((s, v) => s + Math.abs(v), 0) / K);
      for (let r = 0; r < B; r++) for (let c = 0; c < N; c++) want[r * N + c] = want[r * N + c] * scales[c] + bias[c];
      expectClose(flat(y), want, 1e-5);
      expectClose(flat(layer.channelScales()), scales, 1e-6, 'channelScales');
    });
    layer.dispose();
  });

  test("backward equals the declared surrogates exactly: dW = (dYᵀ·xb) ⊙ 1[|W| <= 1], dx = (dY·Wb) ⊙ 1[|x| <= 1]", () => {
    for (const [i, [B, K, N]] of shapes(10, 21).entries()) {
      const layer = new sg.nn.BinaryLinear(K, N, { seed: i });
      sg.tidy(() => {
        const w = gridArray(N * K, 400 + i, 8, 1.5);
        write(layer.weight, w);
        const xs = gridArray(B * K, 500 + i, 8, 1.5);
        const dy = gridArray(B * N, 600 + i, 1, 4);
        const x = input(xs, [B, K], true);
        layer.forward(x).backward(input(dy, [B, N]));
        const dW = matmulAT(dy, xs.map(bin), B, N, K).map((v, j) => (Math.abs(w[j]) <= 1 ? v : 0));
        const dx = matmulNN(dy, w.map(bin), B, N, K).map((v, j) => (Math.abs(xs[j]) <= 1 ? v : 0));
        expectExact(flat(layer.weight.grad!), dW, `dW [${B},${K}]x[${N}]`);
        expectExact(flat(x.grad!), dx, `dx [${B},${K}]x[${N}]`);
      });
      layer.dispose();
    }
  });

  test("other surrogates: inputGrad 'identity' and 'approx', weightGrad 'identity'", () => {
    const [B, K, N] = [5, 31, 4];
    const w = gridArray(N * K, 31, 8, 1.5);
    const xs = gridArray(B * K, 32, 8, 1.5);
    const dy = gridArray(B * N, 33, 1, 3);
    const g = matmulNN(dy, w.map(bin), B, N, K);
    const cases: [Record<string, string>, (j: number) => number, (j: number) => number][] = [
      [{ inputGrad: 'identity' }, (j) => g[j], (j) => (Math.abs(w[j]) <= 1 ? 1 : 0)],
      [{ inputGrad: 'approx' }, (j) => (Math.abs(xs[j]) <= 1 ? (2 - 2 * Math.abs(xs[j])) * g[j] : 0), (j) => (Math.abs(w[j]) <= 1 ? 1 : 0)],
      [{ weightGrad: 'identity' }, (j) => (Math.abs(xs[j]) <= 1 ? g[j] : 0), () => 1],
    ];
    const dWfull = matmulAT(dy, xs.map(bin), B, N, K);
    for (const [opts, dxOf, wMask] of cases) {
      const layer = new sg.nn.BinaryLinear(K, N, opts as any);
      sg.tidy(() => {
        write(layer.weight, w);
        const x = input(xs, [B, K], true);
        layer.forward(x).backward(input(dy, [B, N]));
        expectExact(flat(x.grad!), Array.from({ length: B * K }, (_, j) => dxOf(j)), `dx ${JSON.stringify(opts)}`);
        expectExact(flat(layer.weight.grad!), dWfull.map((v, j) => v * wMask(j)), `dW ${JSON.stringify(opts)}`);
      });
      layer.dispose();
    }
  });

  test('latent weights are clipped to [-clip, clip] after an optimizer step with a huge lr', () => {
    for (const makeOpt of [(ps: Tensor[]) => new sg.optim.SGD(ps, { lr: 1e6 }), (ps: Tensor[]) => new sg.optim.Adam(ps, { lr: 10 })]) {
      const layer = new sg.nn.BinaryLinear(9, 4, { clip: 0.5, bias: true, seed: 5 });
      const opt = makeOpt(layer.parameters());
      sg.tidy(() => {
        const y = layer.forward(input(seededArray(3 * 9, 41), [3, 9]));
        sg.mul(y, input(seededArray(3 * 4, 42), [3, 4])).sum().backward();
      });
      opt.step();
      const w = flat(layer.weight);
      expect(w.every((v) => Math.abs(v) <= 0.5)).toBe(true);
      expect(w.filter((v) => Math.abs(v) === 0.5).length).toBeGreaterThan(20);
      // The bias is a float parameter: not clipped.
      expect(flat(layer.bias!).some((v) => Math.abs(v) > 0.5)).toBe(true);
      opt.dispose();
      layer.dispose();
    }
  });

  test('binaryParameters() lists exactly the binary layers\' weights', () => {
    const model = new sg.nn.Sequential(
      new sg.nn.BinaryLinear(4, 3, { bias: true }),
      new sg.nn.BatchNorm1d(3),
      new sg.nn.QuantLinear(3, 3),
      new sg.nn.Linear(3, 2),
      new sg.nn.BinaryLinear(2, 2),
    );
    const [b0, bn, q, lin, b4] = model.layers as any[];
    expect(model.binaryParameters()).toEqual([b0.weight, b4.weight]);
    expect(model.binaryParameters()[0]).toBe(b0.weight);
    expect(model.binaryParameters()[1]).toBe(b4.weight);
    expect(model.nonBinaryParameters()).toEqual([b0.bias, bn.weight, bn.bias, q.weight, q.bias, lin.weight, lin.bias]);
    model.dispose();
  });

  test('bad options and inputs are rejected', () => {
    expect(() => new sg.nn.BinaryLinear(3, 2, { clip: 0 })).toThrow(/BinaryLinear.*clip/);
    expect(() => new sg.nn.BinaryLinear(3, 2, { clip: NaN })).toThrow(/BinaryLinear.*clip/);
    const layer = new sg.nn.BinaryLinear(3, 2);
    sg.tidy(() => {
      expect(() => layer.forward(sg.zeros([2, 2]))).toThrow(/BinaryLinear: x must have shape \[\.\.\., 3\]/);
    });
    layer.dispose();
  });
});

/** Fake-quantized weights exactly as the float32 graph computes them: s = max|W|/qmax + 1e-12. */
function quantWeightRef(w: Float32Array, N: number, K: number, bits: number, perChannel: boolean): { wq: Float32Array; s: Float32Array; levels: Float32Array } {
  const qmax = 2 ** (bits - 1) - 1;
  const s = new Float32Array(perChannel ? N : 1);
  for (let c = 0; c < s.length; c++) {
    const row = perChannel ? w.subarray(c * K, c * K + K) : w;
    const m = row.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    s[c] = f(f(m / qmax) + f(1e-12));
  }
  const levels = new Float32Array(N * K);
  const wq = new Float32Array(N * K);
  for (let j = 0; j < N * K; j++) {
    const sc = s[perChannel ? Math.floor(j / K) : 0];
    levels[j] = Math.min(qmax, Math.max(-qmax, rhe(f(w[j] / sc))));
    wq[j] = f(levels[j] * sc);
  }
  return { wq, s, levels };
}

/** Activation fake quantization with 8-bit signed levels [-128, 127] at scale s. */
function quantActRef(x: ArrayLike<number>, s: number, bits: number): Float32Array {
  const s32 = f(s);
  const lo = -(2 ** (bits - 1));
  const hi = 2 ** (bits - 1) - 1;
  return Float32Array.from(x, (v) => f(Math.min(hi, Math.max(lo, rhe(f(v / s32)))) * s32));
}

describe('QuantLinear', () => {
  for (const bits of [2, 4, 8]) {
    for (const perChannel of [true, false]) {
      test(`weights: ${bits}-bit, perChannel ${perChannel}: quantizedWeight() and the forward match the reference`, () => {
        const [B, K, N] = [3, 13, 5];
        const layer = new sg.nn.QuantLinear(K, N, { weightBits: bits, perChannel, activationBits: null, seed: bits });
        sg.tidy(() => {
          const w = seededArray(N * K, 50 + bits, -0.4, 0.4);
          // A channel with a much larger range separates per-channel from per-tensor scales.
          for (let k = 0; k < K; k++) w[2 * K + k] *= 5;
          write(layer.weight, w);
          const ref = quantWeightRef(w, N, K, bits, perChannel);
          const qmax = 2 ** (bits - 1) - 1;
          expect(layer.weightQmax).toBe(qmax);
          expectExact(flat(layer.quantizedWeight()), ref.wq, 'quantizedWeight');
          expectExact(flat(layer.computeWeightScale()), ref.s, 'scales');
          expect(layer.computeWeightScale().shape).toEqual(perChannel ? [N, 1] : [1, 1]);
          // The largest weight of each scale group lands on ±qmax.
          expect(ref.levels.some((v) => Math.abs(v) === qmax)).toBe(true);
          expect(new Set(ref.levels).size).toBeLessThanOrEqual(2 * qmax + 1);
          const xs = seededArray(B * K, 60 + bits);
          const y = layer.forward(input(xs, [B, K]));
          const want = matmulBT(xs, ref.wq, B, K, N);
          const b = flat(layer.bias!);
          for (let r = 0; r < B; r++) for (let c = 0; c < N; c++) want[r * N + c] += b[c];
          expectClose(flat(y), want, 1e-5, 'forward');
        });
        layer.dispose();
      });
    }
  }

  test('weight rounding is half to even: levels of [7, 2.5, -3.5, 0.5, 1.5, -0.5] at scale 1 are [7, 2, -4, 0, 2, 0]', () => {
    const layer = new sg.nn.QuantLinear(6, 1, { weightBits: 4, activationBits: null });
    sg.tidy(() => {
      write(layer.weight, [7, 2.5, -3.5, 0.5, 1.5, -0.5]);
      expectExact(flat(layer.quantizedWeight()), [7, 2, -4, 0, 2, 0]);
    });
    layer.dispose();
  });

  test('activation observer: running max|x| with EMA momentum after two batches; the forward uses its scale', () => {
    const [K, N] = [6, 3];
    const layer = new sg.nn.QuantLinear(K, N, { activationBits: 8, observerMomentum: 0.25, seed: 8 });
    const range = (): number => layer.stateDict().inputRange.item();
    expect(range()).toBe(0);
    sg.tidy(() => {
      const x1 = seededArray(2 * K, 70, -2, 2);
      x1[3] = -3;
      layer.forward(input(x1, [2, K]));
      expect(range()).toBe(3);
      const x2 = seededArray(4 * K, 71, -5, 5);
      x2[5] = 7.5;
      const y = layer.forward(input(x2, [4, K]));
      const r = f(0.75 * 3 + 0.25 * 7.5);
      expect(range()).toBe(r);
      expect(layer.inputScale()).toBeCloseTo(r / 127, 12);
      // x2 reaches 7.5 > r: the top values clamp to 127 levels.
      const xq = quantActRef(x2, r / 127, 8);
      expect(Math.max(...xq)).toBe(f(127 * f(r / 127)));
      const want = matmulBT(xq, flat(layer.quantizedWeight()), 4, K, N);
      const b = flat(layer.bias!);
      for (let i = 0; i < 4; i++) for (let c = 0; c < N; c++) want[i * N + c] += b[c];
      expectClose(flat(y), want, 1e-5, 'forward');
    });
    layer.dispose();
  });

  test('eval mode stops observing', () => {
    const layer = new sg.nn.QuantLinear(4, 2, { activationBits: 4 });
    sg.tidy(() => {
      layer.forward(input([0.5, -1, 0.25, 2], [1, 4]));
      expect(layer.stateDict().inputRange.item()).toBe(2);
      layer.eval();
      layer.forward(input([50, -100, 25, 2], [1, 4]));
      expect(layer.stateDict().inputRange.item()).toBe(2);
      expect(layer.inputScale()).toBe(2 / 7);
      layer.train();
      layer.forward(input([50, -100, 25, 2], [1, 4]));
      expect(layer.stateDict().inputRange.item()).toBe(f(0.9 * 2 + 0.1 * 100));
    });
    layer.dispose();
  });

  test('STE backward: dW = dYᵀ·xq (nothing clamped with max|W|/qmax scales), dx = dY·Wq where x is in range', () => {
    const [B, K, N] = [4, 9, 3];
    const layer = new sg.nn.QuantLinear(K, N, { weightBits: 4, activationBits: 8, seed: 12 });
    sg.tidy(() => {
      const x1 = seededArray(B * K, 80);
      layer.forward(input(x1, [B, K])); // observe range ≈ 1
      layer.eval();
      const s = layer.inputScale()!;
      const xs = seededArray(B * K, 81, -1.5, 1.5);
      const x = input(xs, [B, K], true);
      const dy = seededArray(B * N, 82);
      layer.forward(x).backward(input(dy, [B, N]));
      const xq = quantActRef(xs, s, 8);
      expectClose(flat(layer.weight.grad!), matmulAT(dy, xq, B, N, K), 1e-5, 'dW');
      const inside = xs.map((v) => { const q = rhe(f(v / f(s))); return q >= -128 && q <= 127 ? 1 : 0; });
      expect(inside.includes(0)).toBe(true);
      const dx = matmulNN(dy, flat(layer.quantizedWeight()), B, N, K).map((v, j) => v * inside[j]);
      expectClose(flat(x.grad!), dx, 1e-5, 'dx');
      expectClose(flat(layer.bias!.grad!), Array.from({ length: N }, (_, c) => dy.reduce((a, v, j) => (j % N === c ? a + v : a), 0)), 1e-6, 'db');
    });
    layer.dispose();
  });

  test('learnScale: the scale is a parameter with gradient Σ_j G_cj (q_cj − 1[unclamped] W_cj / s_c), and clamped weights get no gradient', () => {
    const [B, K, N] = [3, 5, 2];
    // Built inside tidy: the constructor's scale computation leaves temporaries behind (see the last test).
    const layer = sg.tidy(() => new sg.nn.QuantLinear(K, N, { weightBits: 3, activationBits: null, learnScale: true, bias: false }));
    const scaleParam = layer.parameters()[1];
    expect(scaleParam.shape).toEqual([N, 1]);
    expect(layer.parameters()).toHaveLength(2);
    sg.tidy(() => {
      // qmax = 3. Channel 0 at s = 0.25: W/s = [1.2, -2.4, 3.6, 0.4, -5]; channel 1 at s = 0.5: [0.6, 2.8, -1.6, 3.3, 0.2].
      const w = [0.3, -0.6, 0.9, 0.1, -1.25, 0.3, 1.4, -0.8, 1.65, 0.1];
      const s = [0.25, 0.5];
      write(layer.weight, w);
      write(scaleParam, s);
      const xs = seededArray(B * K, 90);
      const dy = seededArray(B * N, 91);
      layer.forward(input(xs, [B, K])).backward(input(dy, [B, N]));
      const G = matmulAT(dy, xs, B, N, K);
      const wantS: number[] = [];
      const wantW: number[] = [];
      for (let c = 0; c < N; c++) {
        let g = 0;
        for (let k = 0; k < K; k++) {
          const j = c * K + k;
          const r = rhe(f(f(w[j]) / s[c]));
          const unclamped = Math.abs(r) <= 3;
          const q = Math.max(-3, Math.min(3, r));
          g += G[j] * (q - (unclamped ? w[j] / s[c] : 0));
          wantW.push(unclamped ? G[j] : 0);
        }
        wantS.push(g);
      }
      expect(wantW.filter((v) => v === 0)).toHaveLength(2); // 3.6 and -5 clamp
      const gs = flat(scaleParam.grad!);
      expect(gs.every((v) => v !== 0)).toBe(true);
      expectClose(gs, wantS, 1e-5, 'dScale');
      expectClose(flat(layer.weight.grad!), wantW, 1e-5, 'dW');
    });
    // The scale trains: one SGD step changes it by -lr · grad.
    const before = flat(scaleParam);
    const g = flat(scaleParam.grad!);
    const opt = new sg.optim.SGD([scaleParam], { lr: 0.01 });
    opt.step();
    expectClose(flat(scaleParam), before.map((v, i) => v - 0.01 * g[i]), 1e-6, 'scale after step');
    opt.dispose();
    layer.dispose();
  });

  test('bad options are rejected naming the option', () => {
    expect(() => new sg.nn.QuantLinear(3, 2, { weightBits: 1 })).toThrow(/QuantLinear.*weightBits/);
    expect(() => new sg.nn.QuantLinear(3, 2, { weightBits: 9 })).toThrow(/QuantLinear.*weightBits/);
    expect(() => new sg.nn.QuantLinear(3, 2, { activationBits: 3.5 })).toThrow(/QuantLinear.*activationBits/);
    expect(() => new sg.nn.QuantLinear(3, 2, { observerMomentum: 2 })).toThrow(/QuantLinear.*observerMomentum/);
  });
});

describe('BatchNorm1d', () => {
  function batchStats(xs: ArrayLike<number>, B: number, F: number): { mean: number[]; biased: number[]; unbiased: number[] } {
    const mean = Array.from({ length: F }, (_, c) => { let s = 0; for (let r = 0; r < B; r++) s += xs[r * F + c]; return s / B; });
    const ss = Array.from({ length: F }, (_, c) => { let s = 0; for (let r = 0; r < B; r++) s += (xs[r * F + c] - mean[c]) ** 2; return s; });
    return { mean, biased: ss.map((v) => v / B), unbiased: ss.map((v) => v / (B - 1)) };
  }

  test('training forward normalizes with the batch mean and biased variance, then weight and bias', () => {
    for (const [B, F] of [[2, 1], [5, 3], [17, 8], [4, 33]]) {
      const bn = new sg.nn.BatchNorm1d(F, { eps: 1e-3 });
      sg.tidy(() => {
        const w = seededArray(F, B + 1, 0.5, 2);
        const b = seededArray(F, B + 2);
        write(bn.weight!, w);
        write(bn.bias!, b);
        const xs = seededArray(B * F, B * F, -3, 5);
        const y = bn.forward(input(xs, [B, F]));
        const { mean, biased } = batchStats(xs, B, F);
        const want = Array.from({ length: B * F }, (_, j) => ((xs[j] - mean[j % F]) / Math.sqrt(biased[j % F] + 1e-3)) * w[j % F] + b[j % F]);
        expectClose(flat(y), want, 2e-5, `[${B},${F}]`);
      });
      bn.dispose();
    }
  });

  test('affine: false has no parameters and returns the normalized values', () => {
    const bn = new sg.nn.BatchNorm1d(2, { affine: false });
    expect(bn.parameters()).toEqual([]);
    sg.tidy(() => {
      const y = bn.forward(input([1, 10, 3, 20], [2, 2]));
      expectClose(flat(y), [-1, -1, 1, 1], 1e-4);
    });
    bn.dispose();
  });

  test('gradients for x, weight and bias pass gradcheck (momentum 0 keeps the statistics fixed)', () => {
    const bn = new sg.nn.BatchNorm1d(3, { momentum: 0 });
    sg.tidy(() => {
      write(bn.weight!, [1.5, -0.7, 0.9]);
      write(bn.bias!, [0.1, 0.2, -0.3]);
      const x = input(seededArray(6 * 3, 17, -2, 2), [6, 3], true);
      const c = input(seededArray(6 * 3, 18), [6, 3]);
      const r = sg.gradcheck(() => sg.mul(bn.forward(x), c), [x, bn.weight!, bn.bias!], { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
      expect(r.ok, JSON.stringify(r)).toBe(true);
    });
    expectExact(flat(bn.runningMean), [0, 0, 0], 'runningMean with momentum 0');
    expectExact(flat(bn.runningVar), [1, 1, 1], 'runningVar with momentum 0');
    bn.dispose();
  });

  test('running statistics: (1 − momentum)·running + momentum·batch with the unbiased variance, over two batches', () => {
    const [B, F] = [7, 4];
    const bn = new sg.nn.BatchNorm1d(F, { momentum: 0.3 });
    let rm = new Array(F).fill(0);
    let rv = new Array(F).fill(1);
    sg.tidy(() => {
      for (const seed of [1, 2]) {
        const xs = seededArray(B * F, 900 + seed, -1, 3);
        bn.forward(input(xs, [B, F]));
        const { mean, unbiased } = batchStats(xs, B, F);
        rm = rm.map((v, c) => 0.7 * v + 0.3 * mean[c]);
        rv = rv.map((v, c) => 0.7 * v + 0.3 * unbiased[c]);
        expectClose(flat(bn.runningMean), rm, 1e-5, `runningMean after batch ${seed}`);
        expectClose(flat(bn.runningVar), rv, 1e-5, `runningVar after batch ${seed}`);
      }
    });
    bn.dispose();
  });

  test('eval uses running statistics in the documented float32 order ((x − μ) / sqrt(σ² + eps)) · w + b, and does not update them', () => {
    const [B, F] = [5, 6];
    const bn = new sg.nn.BatchNorm1d(F);
    sg.tidy(() => {
      const rm = seededArray(F, 31), rv = seededArray(F, 32, 0.1, 3), w = seededArray(F, 33), b = seededArray(F, 34);
      write(bn.runningMean, rm);
      write(bn.runningVar, rv);
      write(bn.weight!, w);
      write(bn.bias!, b);
      bn.eval();
      const xs = seededArray(B * F, 35, -3, 3);
      const y = bn.forward(input(xs, [B, F]));
      const eps = f(1e-5);
      const want = Array.from({ length: B * F }, (_, j) => {
        const c = j % F;
        const xhat = f(f(xs[j] - rm[c]) / f(Math.sqrt(f(rv[c] + eps))));
        return f(f(xhat * w[c]) + b[c]);
      });
      expectExact(flat(y), want, 'eval');
      expectExact(flat(bn.runningMean), rm, 'runningMean unchanged');
      expectExact(flat(bn.runningVar), rv, 'runningVar unchanged');
      // A batch of one is fine in eval.
      expect(bn.forward(input(xs.subarray(0, F), [1, F])).shape).toEqual([1, F]);
    });
    bn.dispose();
  });

  test('a batch of one in training, a wrong shape and bad options are errors', () => {
    const bn = new sg.nn.BatchNorm1d(3);
    sg.tidy(() => {
      expect(() => bn.forward(sg.zeros([1, 3]))).toThrow(/BatchNorm1d: training needs a batch of at least 2 rows, got 1/);
      expect(() => bn.forward(sg.zeros([4, 2]))).toThrow(/BatchNorm1d: x must have shape \[batch, 3\]/);
    });
    expectExact(flat(bn.runningMean), [0, 0, 0]);
    expect(() => new sg.nn.BatchNorm1d(3, { momentum: 1.5 })).toThrow(/BatchNorm1d.*momentum/);
    expect(() => new sg.nn.BatchNorm1d(3, { eps: 0 })).toThrow(/BatchNorm1d.*eps/);
    expect(() => new sg.nn.BatchNorm1d(0)).toThrow(/BatchNorm1d.*numFeatures/);
    bn.dispose();
  });
});

describe('Dropout', () => {
  test('eval is the identity', () => {
    const d = new sg.nn.Dropout(0.5, { seed: 1 }).eval();
    sg.tidy(() => {
      const xs = seededArray(100, 3);
      expectExact(flat(d.forward(input(xs, [10, 10]))), xs);
    });
  });

  test('training zeroes about p of the elements (binomial bound), scales the rest by 1/(1 − p); the gradient is the mask', () => {
    for (const p of [0.1, 0.3, 0.75]) {
      const d = new sg.nn.Dropout(p, { seed: 17 });
      sg.tidy(() => {
        const n = 20000;
        const xs = seededArray(n, 5, 0.5, 2);
        const x = input(xs, [100, 200], true);
        const y = d.forward(x);
        const ys = flat(y);
        const zeros = ys.filter((v) => v === 0).length;
        const sd = Math.sqrt(n * p * (1 - p));
        expect(Math.abs(zeros - n * p)).toBeLessThan(5 * sd);
        const keepScale = f(1 / (1 - p));
        for (let i = 0; i < n; i++) if (ys[i] !== 0 && ys[i] !== f(xs[i] * keepScale)) throw new Error(`y[${i}] = ${ys[i]}, want ${xs[i]} / ${1 - p}`);
        y.backward(sg.ones([100, 200]));
        expectExact(flat(x.grad!), ys.map((v) => (v === 0 ? 0 : keepScale)), 'grad');
      });
    }
  });

  test('seeded: the same seed gives the same masks; successive calls give different masks', () => {
    const a = new sg.nn.Dropout(0.5, { seed: 42 });
    const b = new sg.nn.Dropout(0.5, { seed: 42 });
    sg.tidy(() => {
      const x = sg.ones([1, 500]);
      const a1 = flat(a.forward(x)), b1 = flat(b.forward(x));
      const a2 = flat(a.forward(x)), b2 = flat(b.forward(x));
      expectExact(a1, b1);
      expectExact(a2, b2);
      expect(a1.some((v, i) => v !== a2[i])).toBe(true);
    });
  });

  test('p = 0 is the identity in training; p outside [0, 1) is an error', () => {
    const d = new sg.nn.Dropout(0);
    sg.tidy(() => {
      const xs = seededArray(64, 8);
      expectExact(flat(d.forward(input(xs, [8, 8]))), xs);
    });
    expect(() => new sg.nn.Dropout(1)).toThrow(/Dropout: p must be < 1/);
    expect(() => new sg.nn.Dropout(-0.1)).toThrow(/Dropout.*p/);
    expect(() => new sg.nn.Dropout(NaN)).toThrow(/Dropout.*p/);
  });
});

describe('Sequential, Flatten and activations', () => {
  test('activation layers: values of relu, tanh, sigmoid, hardtanh, sign (sign(0) = 0) and binarize (0 -> +1)', () => {
    const xs = [-3, -1.5, -1, -0.25, 0, 0.25, 1, 1.5, 3];
    const cases: [any, (v: number) => number, number][] = [
      [new sg.nn.ReLU(), (v) => Math.max(0, v), 0],
      [new sg.nn.Tanh(), Math.tanh, 1e-6],
      [new sg.nn.Sigmoid(), (v) => 1 / (1 + Math.exp(-v)), 1e-6],
      [new sg.nn.Hardtanh(), (v) => Math.min(1, Math.max(-1, v)), 0],
      [new sg.nn.Hardtanh(-0.5, 2), (v) => Math.min(2, Math.max(-0.5, v)), 0],
      [new sg.nn.Sign(), Math.sign, 0],
      [new sg.nn.Binarize(), bin, 0],
    ];
    sg.tidy(() => {
      for (const [layer, ref, tol] of cases) {
        const y = layer.forward(input(xs, [1, 9]));
        expect(y.shape).toEqual([1, 9]);
        expectClose(flat(y), xs.map(ref), tol, layer.constructor.name);
      }
      expect(() => new sg.nn.ReLU().forward(sg.tensor([1], [1], { dtype: 'int32' }))).toThrow(/ReLU.*x/);
    });
    expect(() => new sg.nn.Hardtanh(1, 1)).toThrow(/Hardtanh: min/);
  });

  test('Flatten keeps the batch axis and the values', () => {
    sg.tidy(() => {
      const xs = seededArray(2 * 3 * 4, 9);
      const y = new sg.nn.Flatten().forward(input(xs, [2, 3, 4]));
      expect(y.shape).toEqual([2, 12]);
      expectExact(flat(y), xs);
      expect(new sg.nn.Flatten().forward(sg.zeros([3])).shape).toEqual([3, 1]);
      expect(() => new sg.nn.Flatten().forward(sg.zeros([]))).toThrow(/Flatten/);
    });
  });

  test('Flatten of an empty batch gives [0, product of the rest]', () => {
    sg.tidy(() => {
      expect(new sg.nn.Flatten().forward(sg.zeros([0, 5, 2])).shape).toEqual([0, 10]);
    });
  });

  test('Sequential applies its layers in order, names them 0, 1, ... and propagates train()/eval()', () => {
    const l0 = new sg.nn.Linear(4, 3, { seed: 1 });
    const l2 = new sg.nn.Linear(3, 2, { seed: 2 });
    const drop = new sg.nn.Dropout(0.5);
    const model = new sg.nn.Sequential(new sg.nn.Flatten(), l0, new sg.nn.ReLU(), drop, l2);
    expect(model.layers).toHaveLength(5);
    expect(model.namedModules().map(([n]) => n)).toEqual(['', '0', '1', '2', '3', '4']);
    expect(Object.keys(model.stateDict())).toEqual(['1.weight', '1.bias', '4.weight', '4.bias']);
    model.eval();
    expect(model.layers.every((m) => !m.training) && !model.training).toBe(true);
    sg.tidy(() => {
      const xs = seededArray(3 * 4, 10);
      const y = model.forward(input(xs, [3, 2, 2]));
      const h = matmulBT(xs, flat(l0.weight), 3, 4, 3).map((v, j) => Math.max(0, v + flat(l0.bias!)[j % 3]));
      const want = matmulBT(h, flat(l2.weight), 3, 3, 2).map((v, j) => v + flat(l2.bias!)[j % 2]);
      expectClose(flat(y), want, 1e-5);
      expectExact(flat(model.call(input(xs, [3, 2, 2]))), flat(y), 'call');
    });
    model.train();
    expect(drop.training).toBe(true);
    expect(() => new sg.nn.Sequential(l0, {} as any)).toThrow(/Sequential: layer 1 must be a Module/);
    model.dispose();
  });
});

// Last in the file: the leak check compares against the count at the start of
// the file, so a leak here cannot make later tests fail.
describe('construction leaves no temporaries', () => {
  test('QuantLinear with learnScale: constructing and disposing outside tidy leaves the tensor count unchanged', () => {
    const before = sg.memoryStats().tensorsAlive;
    const layer = new sg.nn.QuantLinear(3, 2, { learnScale: true });
    const made = sg.memoryStats().tensorsAlive - before;
    layer.dispose();
    expect(made, 'tensors alive after construction').toBe(4); // weight, bias, weightScale, inputRange
    expect(sg.memoryStats().tensorsAlive).toBe(before);
  });
});

describe('layer seeds', () => {
  test('the largest seed, 2^32 - 1, is valid: the bias seed (seed + 1) wraps to 0 instead of failing in rand', () => {
    const max = 2 ** 32 - 1;
    for (const make of [
      () => new sg.nn.Linear(3, 2, { seed: max }),
      () => new sg.nn.Conv2d(3, 3, 1, { seed: max }),
      () => new sg.nn.QuantConv2d(3, 3, 1, { seed: max }),
    ]) {
      const layer = make();
      const again = make();
      const bias = layer.namedParameters().find(([n]) => n === 'bias')![1];
      const zeroSeeded = sg.rand([bias.size], { low: -1, high: 1, seed: 0 });
      // Same bits on every construction, and drawn from seed 0 (scaled by the layer's bound).
      expect([...bias.dataSync()]).toEqual([...again.namedParameters().find(([n]) => n === 'bias')![1].dataSync()]);
      expect(Math.sign(bias.dataSync()[0])).toBe(Math.sign(zeroSeeded.dataSync()[0]));
      zeroSeeded.dispose();
      layer.dispose();
      again.dispose();
    }
  });
});
