// Optimizers (SGD, Adam, AdamW, Bop, Chain, param groups), learning-rate
// schedules, and the optimizer kernels against their scalar twin
// src/reference/optim.ts.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { adamCoefficients } from '../../src/nn/optim.js';
import { adamUpdateRef, bopUpdateRef } from '../../src/reference/optim.js';
import { Arena, kernels } from '../support/kernel-harness.js';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const own = disposeAfterEach();

const f = Math.fround;
const flat = (t: Tensor): Float32Array => t.dataSync() as Float32Array;

function param(values: ArrayLike<number>): Tensor {
  return own(sg.tensor(Float32Array.from(values), [values.length], { requiresGrad: true }));
}

function setGrad(p: Tensor, values: ArrayLike<number>): void {
  p.grad?.dispose();
  p.grad = sg.tensor(Float32Array.from(values), [...p.shape]);
}

/** Bit-for-bit equality of float32 arrays (so -0 and +0 differ), naming the first difference. */
function expectBits(got: Float32Array, want: Float32Array, label = ''): void {
  expect(got.length, `${label} length`).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`${label}[${i}]: got ${got[i]}, want ${want[i]}`);
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, label = ''): void {
  expect(got.length, `${label} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i])))) throw new Error(`${label}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

describe('SGD', () => {
  test('momentum and weight decay: exact float32 values after two steps, close to the float64 recurrence', () => {
    const p0 = seededArray(7, 1, -2, 2);
    const grads = [seededArray(7, 2), seededArray(7, 3)];
    const [lr, mom, wd] = [0.05, 0.9, 0.1];
    const p = param(p0);
    const opt = own(new sg.optim.SGD([p], { lr, momentum: mom, weightDecay: wd }));
    // float32 emulation: g += wd p; v = mom v; v += g; p += (-lr) v
    const pe = Float32Array.from(p0), ve = new Float32Array(7);
    // float64 recurrence
    const pd = Array.from(p0), vd = new Array(7).fill(0);
    for (const g of grads) {
      setGrad(p, g);
      opt.step();
      for (let i = 0; i < 7; i++) {
        const gi = f(g[i] + f(f(wd) * pe[i]));
        ve[i] = f(f(f(mom) * ve[i]) + gi);
        pe[i] = f(pe[i] + f(f(-lr) * ve[i]));
        const gd = g[i] + wd * pd[i];
        vd[i] = mom * vd[i] + gd;
        pd[i] -= lr * vd[i];
      }
    }
    expectBits(flat(p), pe, 'float32');
    expectClose(flat(p), pd, 1e-6, 'float64');
  });

  test('plain SGD: p -= lr g', () => {
    const p = param([1, -2, 3]);
    const opt = own(new sg.optim.SGD([p], { lr: 0.5 }));
    setGrad(p, [2, 2, -4]);
    opt.step();
    expectBits(flat(p), Float32Array.from([0, -3, 5]));
  });

  test('step() leaves the gradient unchanged (weight decay is not written into p.grad)', () => {
    const p = param([1, -2, 3]);
    const opt = own(new sg.optim.SGD([p], { lr: 0.1, momentum: 0.5, weightDecay: 0.5 }));
    setGrad(p, [0.25, 0.5, -1]);
    opt.step();
    expectBits(flat(p.grad!), Float32Array.from([0.25, 0.5, -1]), 'p.grad after step');
  });
});

describe('Adam and AdamW', () => {
  test('the first step moves each weight by ≈ lr·sign(g) whatever the gradient magnitude (bias correction)', () => {
    const g = [1e-3, -1e-2, 0.5, -3, 100, -1e3, 0];
    const p0 = seededArray(g.length, 4);
    const p = param(p0);
    const opt = own(new sg.optim.Adam([p], { lr: 0.01 }));
    setGrad(p, g);
    opt.step();
    const moved = flat(p).map((v, i) => v - p0[i]);
    g.forEach((gi, i) => expect(Math.abs(moved[i] + 0.01 * Math.sign(gi))).toBeLessThan(2e-6));
    expect(moved[6]).toBe(0);
  });

  const configs: [string, (ps: Tensor[]) => any, { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean }][] = [
    ['Adam', (ps) => new sg.optim.Adam(ps, { lr: 0.01 }), { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false }],
    ['Adam with L2 decay and custom betas', (ps) => new sg.optim.Adam(ps, { lr: 0.003, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.01 }),
      { lr: 0.003, b1: 0.8, b2: 0.95, eps: 1e-6, wd: 0.01, decoupled: false }],
    ['AdamW', (ps) => new sg.optim.AdamW(ps, { lr: 0.02, weightDecay: 0.1 }), { lr: 0.02, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decoupled: true }],
    ['AdamW default decay 0.01', (ps) => new sg.optim.AdamW(ps, { lr: 0.02 }), { lr: 0.02, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01, decoupled: true }],
  ];
  for (const [name, make, o] of configs) {
    test(`${name}: six steps on parameters of sizes 1, 3, 4, 5, 7, 33 match the scalar twin bit for bit`, () => {
      const sizes = [1, 3, 4, 5, 7, 33];
      const ps = sizes.map((n, i) => param(seededArray(n, 10 + i, -2, 2)));
      const twin = sizes.map((n, i) => ({ p: seededArray(n, 10 + i, -2, 2), m: new Float32Array(n), v: new Float32Array(n) }));
      const opt = own(make(ps));
      for (let t = 1; t <= 6; t++) {
        ps.forEach((p, i) => {
          const g = seededArray(sizes[i], 100 * t + i, -3, 3);
          if (t === 2) g[0] = 0;
          setGrad(p, g);
          const s = twin[i];
          const k = adamCoefficients({ lr: o.lr, beta1: o.b1, beta2: o.b2, eps: o.eps, weightDecay: o.wd }, t, o.decoupled);
          adamUpdateRef(s.p, g, s.m, s.v, k.b1, k.c1, k.b2, k.c2, k.stepSize, k.bc2Sqrt, k.eps, k.shrink, k.l2);
        });
        opt.step();
        ps.forEach((p, i) => expectBits(flat(p), twin[i].p, `${name} step ${t} param ${i}`));
      }
    });
  }

  test('Adam converges on a quadratic Σ (p − target)²', () => {
    const target = [1, 2, -1, 0, 0.5];
    const p = param([5, -3, 0.5, 2, -4]);
    const opt = own(new sg.optim.Adam([p], { lr: 0.05 }));
    const lossAt = (): number => sg.tidy(() => sg.noGrad(() => sg.sum(sg.square(sg.sub(p, sg.tensor(target)))).item()));
    const first = lossAt();
    for (let i = 0; i < 600; i++) {
      opt.zeroGrad();
      sg.tidy(() => sg.sum(sg.square(sg.sub(p, sg.tensor(target)))).backward());
      opt.step();
    }
    expect(first).toBeGreaterThan(40);
    expect(lossAt()).toBeLessThan(1e-4);
    expectClose(flat(p), target, 1e-2);
  });

  test('AdamW decays decoupled (p·(1 − lr·wd), no Adam step at g = 0); Adam adds wd·p to the gradient (a full ≈ lr·sign(p) step)', () => {
    const p0 = [0.5, -2, 3];
    const [lr, wd] = [0.1, 0.2];
    const a = param(p0), w = param(p0);
    const adam = own(new sg.optim.Adam([a], { lr, weightDecay: wd }));
    const adamw = own(new sg.optim.AdamW([w], { lr, weightDecay: wd }));
    setGrad(a, [0, 0, 0]);
    setGrad(w, [0, 0, 0]);
    adam.step();
    adamw.step();
    const shrink = f(1 - lr * wd); // derived in float64 and rounded once, as torch.optim.AdamW does
    expectBits(flat(w), Float32Array.from(p0, (v) => f(v * shrink)), 'AdamW');
    expectClose(flat(a), p0.map((v) => v - lr * Math.sign(v)), 1e-6, 'Adam L2');
  });
});

describe('Bop', () => {
  test('parameters are binarized (0 -> +1) at construction', () => {
    const p = param([0.3, -0.2, 0, -0, 5, -7]);
    const opt = own(new sg.optim.Bop([p]));
    expectBits(flat(p), Float32Array.from([1, -1, 1, 1, 1, -1]));
  });

  test('flips exactly where |m| > threshold and sign(m) == sign(w); lastFlips counts them per step', () => {
    const p = param([1, 1, -1, -1, 1, -1]);
    const opt = own(new sg.optim.Bop([p], { gamma: 0.5, threshold: 0.1 }));
    const g = [1, 0.1, -1, 1, -1, 0.3];
    setGrad(p, g);
    opt.step(); // m = [.5, .05, -.5, .5, -.5, .15]
    expectBits(flat(p), Float32Array.from([-1, 1, 1, -1, 1, -1]));
    expect(opt.lastFlips).toBe(2);
    setGrad(p, g);
    opt.step(); // m = [.75, .075, -.75, .75, -.75, .225]: no sign agreement left
    expectBits(flat(p), Float32Array.from([-1, 1, 1, -1, 1, -1]));
    expect(opt.lastFlips).toBe(0);
    setGrad(p, [-3, 1, -3, 0, 0, 0]);
    opt.step(); // m = [-1.125, .5375, -1.875, .375, -.375, .1125]
    expectBits(flat(p), Float32Array.from([1, -1, 1, -1, 1, -1]));
    expect(opt.lastFlips).toBe(2);
  });

  test('several steps over several parameters match the scalar twin; lastFlips sums over parameters', () => {
    const sizes = [1, 5, 37];
    const ps = sizes.map((n, i) => param(seededArray(n, 70 + i)));
    const opt = own(new sg.optim.Bop(ps, { gamma: 0.3, threshold: 0.05 }));
    const twin = ps.map((p) => ({ w: flat(p), m: new Float32Array(p.size) }));
    let total = 0;
    for (let t = 1; t <= 5; t++) {
      let flips = 0;
      ps.forEach((p, i) => {
        const g = seededArray(sizes[i], 80 + 10 * t + i, -0.5, 0.5);
        setGrad(p, g);
        flips += bopUpdateRef(twin[i].w, g, twin[i].m, 0.3, 0.05);
      });
      opt.step();
      ps.forEach((p, i) => expectBits(flat(p), twin[i].w, `step ${t} param ${i}`));
      expect(opt.lastFlips).toBe(flips);
      total += flips;
    }
    expect(total).toBeGreaterThan(3);
  });
});

describe('param groups, Chain, zeroGrad, errors', () => {
  test('param groups use their own options, the rest the defaults', () => {
    const a = param([1, 1]), b = param([1, 1]);
    const opt = own(new sg.optim.SGD([{ params: [a], options: { lr: 0.5, weightDecay: 1 } }, { params: [b] }], { lr: 0.125 }));
    setGrad(a, [1, -1]);
    setGrad(b, [1, -1]);
    opt.step();
    expectBits(flat(a), Float32Array.from([0, 1]));
    expectBits(flat(b), Float32Array.from([0.875, 1.125]));
    expect(opt.params).toEqual([a, b]);
  });

  test('setting lr scales every group in proportion', () => {
    const a = param([0]), b = param([0]);
    const opt = own(new sg.optim.SGD([{ params: [a], options: { lr: 0.5 } }, { params: [b] }], { lr: 0.25 }));
    opt.lr = 0.125;
    expect(opt.lr).toBe(0.125);
    setGrad(a, [1]);
    setGrad(b, [1]);
    opt.step();
    expect(flat(a)[0]).toBe(-0.25);
    expect(flat(b)[0]).toBe(-0.125);
  });

  test('setting lr changes the step of every parameter once, also in a group of several parameters', () => {
    const ps = [param([0]), param([0]), param([0])];
    const opt = own(new sg.optim.SGD(ps, { lr: 0.25 }));
    opt.lr = 0.125;
    ps.forEach((p) => setGrad(p, [1]));
    opt.step();
    expect(ps.map((p) => flat(p)[0])).toEqual([-0.125, -0.125, -0.125]);
  });

  test('a schedule on an optimizer over a whole model moves each weight by the scheduled lr', () => {
    const model = own(new sg.nn.Linear(3, 2, { seed: 1 }));
    const opt = own(new sg.optim.SGD(model.parameters(), { lr: 1 }));
    const s = new sg.optim.StepLR(opt, 1, 0.5);
    s.step(); // lr 0.5
    const w0 = flat(model.weight);
    model.parameters().forEach((p) => setGrad(p, new Array(p.size).fill(1)));
    opt.step();
    expectClose(flat(model.weight), w0.map((v) => v - 0.5), 1e-7, 'weight after a step at lr 0.5');
  });

  test('group ratios survive the lr passing through 0 (e.g. a warm-up from 0)', () => {
    const a = param([0]), b = param([0]);
    const opt = own(new sg.optim.SGD([{ params: [a], options: { lr: 0.5 } }, { params: [b] }], { lr: 0.25 }));
    opt.lr = 0;
    opt.lr = 0.25;
    setGrad(a, [1]);
    setGrad(b, [1]);
    opt.step();
    expect(flat(a)[0], 'group with lr 0.5').toBe(-0.5);
    expect(flat(b)[0]).toBe(-0.25);
  });

  test('parameters without a gradient are skipped', () => {
    const a = param([1, 2]), b = param([3]);
    const opt = own(new sg.optim.Adam([a, b], { lr: 0.1 }));
    setGrad(a, [1, 1]);
    opt.step();
    expectBits(flat(b), Float32Array.from([3]));
    expect(flat(a)[0]).not.toBe(1);
  });

  test('Chain steps every optimizer (Bop for binary weights, Adam for the rest) and zeroGrad frees every gradient', () => {
    const layer = own(new sg.nn.BinaryLinear(6, 4, { bias: true, seed: 3 }));
    const bop = own(new sg.optim.Bop(layer.binaryParameters(), { gamma: 1, threshold: 0 }));
    const adam = own(new sg.optim.Adam(layer.nonBinaryParameters(), { lr: 0.1 }));
    const chain = own(new sg.optim.Chain(bop, adam));
    const w0 = flat(layer.weight);
    expect(w0.every((v) => v === 1 || v === -1)).toBe(true);
    const b0 = flat(layer.bias!);
    sg.tidy(() => {
      const y = layer.forward(sg.tensor(seededArray(5 * 6, 5), [5, 6]));
      sg.mul(y, sg.tensor(seededArray(5 * 4, 6), [5, 4])).sum().backward();
    });
    const alive = sg.memoryStats().tensorsAlive;
    chain.step();
    // gamma 1, threshold 0: w flips wherever the gradient is non-zero and agrees with it in sign.
    const g = flat(layer.weight.grad!);
    const flipped = w0.map((w, i) => ((g[i] > 0 && w > 0) || (g[i] < 0 && w < 0) ? -w : w));
    expectBits(flat(layer.weight), flipped, 'Bop');
    expect(bop.lastFlips).toBe(flipped.filter((v, i) => v !== w0[i]).length);
    expect(bop.lastFlips).toBeGreaterThan(0);
    expect(flat(layer.bias!).every((v, i) => Math.abs(v - b0[i]) > 0.09)).toBe(true);
    chain.zeroGrad();
    expect(layer.weight.grad).toBeNull();
    expect(layer.bias!.grad).toBeNull();
    expect(sg.memoryStats().tensorsAlive).toBe(alive - 2);
  });

  test('bad arguments are rejected naming what was wrong', () => {
    const p = param([1, 2]);
    const q = own(sg.tensor([1, 2]));
    const i = own(sg.tensor([1, 2], [2], { dtype: 'int32' }));
    expect(() => new sg.optim.SGD([p], { lr: -1 })).toThrow(/SGD.*lr/);
    expect(() => new sg.optim.SGD([p], { lr: NaN })).toThrow(/SGD.*lr/);
    expect(() => new sg.optim.SGD([p], {} as any)).toThrow(/SGD.*lr/);
    expect(() => new sg.optim.SGD([p], { lr: 0.1, momentum: 1.5 })).toThrow(/SGD.*momentum/);
    expect(() => new sg.optim.Adam([p], { lr: 0.1, beta1: 1 })).toThrow(/Adam.*beta1/);
    expect(() => new sg.optim.Adam([p], { lr: 0.1, eps: 0 })).toThrow(/Adam.*eps/);
    expect(() => new sg.optim.AdamW([p], { lr: -0.1 })).toThrow(/AdamW.*lr/);
    expect(() => new sg.optim.Bop([p], { gamma: 2 })).toThrow(/Bop.*gamma/);
    expect(() => new sg.optim.SGD([q], { lr: 0.1 })).toThrow(/SGD: parameter #\d+ must have requiresGrad: true/);
    expect(() => new sg.optim.SGD([i], { lr: 0.1 })).toThrow(/SGD.*params\[0\].*float32/);
    expect(() => new sg.optim.SGD([], { lr: 0.1 })).toThrow(/SGD: params must be a non-empty array/);
    expect(() => new sg.optim.SGD([{ params: [p], options: { lr: -1 } }], { lr: 0.1 })).toThrow(/SGD.*lr/);
    expect(() => new sg.optim.SGD([{ params: p } as any], { lr: 0.1 })).toThrow(/SGD: params\[0\]/);
    expect(() => new sg.optim.Chain()).toThrow(/Chain/);
    expect(() => new sg.optim.Chain({} as any)).toThrow(/Chain/);
    const opt = own(new sg.optim.SGD([p], { lr: 0.1 }));
    expect(() => { opt.lr = -1; }).toThrow(/SGD.*lr/);
    expect(opt.lr).toBe(0.1);
    const d = param([1]);
    d.dispose();
    expect(() => new sg.optim.SGD([d], { lr: 0.1 })).toThrow(/disposed/);
  });
});

describe('schedules', () => {
  test('StepLR: lr = base·gamma^floor(t/stepSize), set on the optimizer, used by the step', () => {
    const p = param([0]);
    const opt = own(new sg.optim.SGD([p], { lr: 0.2 }));
    const s = new sg.optim.StepLR(opt, 3, 0.5);
    let want = 0;
    for (let t = 1; t <= 10; t++) {
      const lr = s.step();
      const closed = 0.2 * 0.5 ** Math.floor(t / 3);
      expect(lr).toBe(closed);
      expect(opt.lr).toBe(closed);
      setGrad(p, [1]);
      opt.step();
      want = f(want + f(f(-closed) * 1));
      expect(flat(p)[0]).toBe(want);
    }
  });

  test('CosineLR: lr = min + (base − min)(1 + cos(πt/T))/2, then min after T steps; groups follow in proportion', () => {
    const a = param([0]), b = param([0]);
    const opt = own(new sg.optim.Adam([{ params: [a], options: { lr: 0.01 } }, { params: [b] }], { lr: 0.1 }));
    const s = new sg.optim.CosineLR(opt, 8, 0.004);
    for (let t = 1; t <= 11; t++) {
      const lr = s.step();
      const closed = t >= 8 ? 0.004 : 0.004 + 0.5 * (0.1 - 0.004) * (1 + Math.cos((Math.PI * t) / 8));
      expect(Math.abs(lr - closed)).toBeLessThanOrEqual(1e-16);
      expect(opt.lr).toBe(lr);
      // Adam's first step is ≈ lr: a moves by the group's lr (a tenth), b by the default lr.
      if (t === 3) {
        setGrad(a, [1]);
        setGrad(b, [1]);
        opt.step();
        // (relative 1e-4: the kernel's float32 1 − beta2 and the float64 bias correction differ by ~1e-5)
        expect(Math.abs(flat(a)[0] + closed / 10)).toBeLessThan(1e-4 * closed / 10);
        expect(Math.abs(flat(b)[0] + closed)).toBeLessThan(1e-4 * closed);
      }
    }
  });

  test('StepLR scales param groups', () => {
    const a = param([0]), b = param([0]);
    const opt = own(new sg.optim.SGD([{ params: [a], options: { lr: 0.03 } }, { params: [b] }], { lr: 0.3 }));
    const s = new sg.optim.StepLR(opt, 2, 0.1);
    s.step();
    s.step(); // factor 0.1
    setGrad(a, [1]);
    setGrad(b, [1]);
    opt.step();
    expect(Math.abs(flat(a)[0] + 0.003)).toBeLessThan(1e-6 * 0.003);
    expect(Math.abs(flat(b)[0] + 0.03)).toBeLessThan(1e-6 * 0.03);
  });

  test('bad schedule arguments are rejected', () => {
    const p = param([0]);
    const opt = own(new sg.optim.SGD([p], { lr: 0.1 }));
    expect(() => new sg.optim.StepLR(opt, 0)).toThrow(/StepLR.*stepSize/);
    expect(() => new sg.optim.StepLR(opt, 2, -1)).toThrow(/StepLR.*gamma/);
    expect(() => new sg.optim.CosineLR(opt, 0)).toThrow(/CosineLR.*totalSteps/);
    expect(() => new sg.optim.CosineLR(opt, 5, -1)).toThrow(/CosineLR.*minLr/);
  });
});

describe('optimizer kernels against the scalar twin (SIMD body and tail)', () => {
  const sizes = [0, 1, 3, 4, 5, 7, 8, 33, 1000];

  test('adam_update, coupled and decoupled decay, early and late steps', () => {
    const cases: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean; t: number; clip?: [number, number] }[] = [
      { lr: 0.001, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false, t: 1 },
      { lr: 0.01, b1: 0.8, b2: 0.99, eps: 1e-6, wd: 0.05, decoupled: false, t: 7 },
      { lr: 0.3, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decoupled: true, t: 3 },
      { lr: 1e-4, b1: 0, b2: 0.5, eps: 1e-3, wd: 0.01, decoupled: true, t: 1000 },
      // the fused latent-weight clamp: most of p starts outside [-1, 1]
      { lr: 0.5, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false, t: 2, clip: [-1, 1] },
    ];
    for (const n of sizes) {
      for (const [ci, c] of cases.entries()) {
        const seed = n * 10 + ci;
        const p = seededArray(n, seed, -3, 3), g = seededArray(n, seed + 1, -2, 2), m = seededArray(n, seed + 2, -1, 1), v = seededArray(n, seed + 3, 0, 2);
        if (n > 2) { g[1] = 0; g[2] = -0; p[2] = 0; v[1] = 0; m[1] = 0; }
        const arena = new Arena();
        const [po, go, mo, vo] = [arena.put(p), arena.put(g), arena.put(m), arena.put(v)];
        const k = adamCoefficients({ lr: c.lr, beta1: c.b1, beta2: c.b2, eps: c.eps, weightDecay: c.wd }, c.t, c.decoupled);
        const [lo, hi] = c.clip ?? [-Infinity, Infinity];
        kernels().adam_update(po, go, mo, vo, n, k.b1, k.c1, k.b2, k.c2, k.stepSize, k.bc2Sqrt, k.eps, k.shrink, k.l2, lo, hi);
        adamUpdateRef(p, g, m, v, k.b1, k.c1, k.b2, k.c2, k.stepSize, k.bc2Sqrt, k.eps, k.shrink, k.l2, lo, hi);
        const label = `n=${n} case ${ci}`;
        expectBits(arena.readF32(po, n), p, `${label} p`);
        expectBits(arena.readF32(mo, n), m, `${label} m`);
        expectBits(arena.readF32(vo, n), v, `${label} v`);
        expectBits(arena.readF32(go, n), g, `${label} g (read only)`);
        arena.free();
      }
    }
  });

  test('bop_update: flips and returned count', () => {
    for (const n of sizes) {
      for (const [gamma, threshold] of [[1e-4, 1e-8], [0.5, 0.1], [1, 0]]) {
        const seed = n * 7 + Math.round(gamma * 100);
        const w = seededArray(n, seed).map((x) => (x >= 0 ? 1 : -1));
        const g = seededArray(n, seed + 1, -1, 1);
        const m = seededArray(n, seed + 2, -0.3, 0.3);
        if (n > 3) { g[0] = 0; m[0] = threshold; g[3] = -0; }
        const arena = new Arena();
        const [wo, go, mo] = [arena.put(w), arena.put(g), arena.put(m)];
        const flips = kernels().bop_update(wo, go, mo, n, gamma, threshold);
        const want = bopUpdateRef(w, g, m, gamma, threshold);
        const label = `n=${n} gamma=${gamma}`;
        expect(flips, label).toBe(want);
        expectBits(arena.readF32(wo, n), w, `${label} w`);
        expectBits(arena.readF32(mo, n), m, `${label} m`);
        arena.free();
        if (n === 1000) expect(want).toBeGreaterThan(0);
      }
    }
  });
});

// Last in the file: the leak check compares against the count at the start of
// the file, so a leak here cannot make later tests fail.
describe('failed construction', () => {
  test('a duplicate parameter is an error, and the throwing constructor frees the state it had allocated', () => {
    const p = param([1, 2]);
    const before = sg.memoryStats().tensorsAlive;
    expect(() => new sg.optim.SGD([p, p], { lr: 0.1, momentum: 0.9 })).toThrow(/SGD: parameter #\d+ appears twice/);
    expect(() => new sg.optim.Adam([{ params: [p] }, { params: [p] }], { lr: 0.1 })).toThrow(/Adam: parameter #\d+ appears twice/);
    expect(sg.memoryStats().tensorsAlive - before, 'tensors left by the failed constructors').toBe(0);
  });
});
