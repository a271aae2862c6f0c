// Layers and the Module API: constructors with hostile arguments, forward
// passes against float64 references, rejected calls that must not touch
// parameters or buffers, state dicts, summary, and the VQ layer.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { bnForwardEvalRef } from '../../src/reference/batchnorm.js';
import { dim, finiteF32, hostile, make, matrix, numberOption, optionBag } from './arbitraries.js';
import { expectClose, expectNoLeakSince, expectShape, free, prop, runCase, snapshot, stats, useRuntime } from './oracle.js';

useRuntime();

const isObj = (o: unknown): o is Record<string, any> => o !== null && typeof o === 'object' && !Array.isArray(o);
const fin = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** Hyperparameters reach float32 kernels: above float32 max they are rejected (issue 10, class 3). */
const F32_MAX = 3.4028234663852886e38;
const f32pos = (v: unknown): boolean => fin(v) && v > 0 && v <= F32_MAX;
/** Boolean options: missing or true/false (null fields never occur here: hostileOption leaves them out). */
const bools = (o: Record<string, any> | undefined, ...keys: string[]) => keys.every((k) => o?.[k] === undefined || typeof o[k] === 'boolean');
const posInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 4096;
const GRADS = ['identity', 'clipped', 'approx', 'swish'];

/** Every tensor a module owns (parameters and buffers). */
const owned = (m: sg.nn.Module) => [...m.parameters(), ...m.namedBuffers().map(([, t]) => t)];

type Ctor = { name: string; make: (a: unknown, b: unknown, o: unknown) => sg.nn.Module; valid: (a: unknown, b: unknown, o: Record<string, any> | undefined) => boolean; opts: fc.Arbitrary<unknown> };
const layerCount = numberOption(fc.integer({ min: 1, max: 9 }));
const CTORS: Ctor[] = [
  { name: 'Linear', make: (a, b, o) => new sg.nn.Linear(a as number, b as number, o as any), valid: (a, b, o) => posInt(a) && posInt(b) && bools(o, 'bias') && (o?.seed === undefined || (Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32)), opts: optionBag({ bias: fc.boolean(), seed: fc.integer({ min: 0, max: 1000 }) }) },
  {
    name: 'BinaryLinear', make: (a, b, o) => new sg.nn.BinaryLinear(a as number, b as number, o as any),
    valid: (a, b, o) => posInt(a) && posInt(b) && bools(o, 'binarizeInputs', 'uint8Inputs', 'scale', 'bias') && (o?.clip === undefined || f32pos(o.clip)) && !(o?.uint8Inputs && (o?.binarizeInputs ?? true))
      && (o?.inputGrad === undefined || GRADS.includes(o.inputGrad)) && (o?.weightGrad === undefined || GRADS.includes(o.weightGrad)) && (o?.seed === undefined || (Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32)),
    opts: optionBag({ binarizeInputs: fc.boolean(), uint8Inputs: fc.boolean(), inputGrad: fc.constantFrom(...GRADS, 'relu'), weightGrad: fc.constantFrom(...GRADS), scale: fc.boolean(), clip: fc.double({ min: 0.1, max: 2, noNaN: true }), bias: fc.boolean(), seed: fc.integer({ min: 0, max: 99 }) }),
  },
  {
    name: 'QuantLinear', make: (a, b, o) => new sg.nn.QuantLinear(a as number, b as number, o as any),
    valid: (a, b, o) => posInt(a) && posInt(b) && bools(o, 'perChannel', 'learnScale', 'bias') && (o?.weightBits === undefined || (Number.isInteger(o.weightBits) && o.weightBits >= 2 && o.weightBits <= 8))
      && (o?.activationBits === undefined || o.activationBits === null || (Number.isInteger(o.activationBits) && o.activationBits >= 2 && o.activationBits <= 8))
      && (o?.observerMomentum === undefined || (fin(o.observerMomentum) && o.observerMomentum >= 0 && o.observerMomentum <= 1)) && (o?.seed === undefined || (Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32)),
    opts: optionBag({ weightBits: fc.integer({ min: 1, max: 9 }), activationBits: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constant(null)), perChannel: fc.boolean(), learnScale: fc.boolean(), observerMomentum: fc.double({ min: -0.5, max: 1.5, noNaN: true }), bias: fc.boolean(), seed: fc.integer({ min: 0, max: 99 }) }),
  },
  { name: 'BatchNorm1d', make: (a, _b, o) => new sg.nn.BatchNorm1d(a as number, o as any), valid: (a, _b, o) => posInt(a) && bools(o, 'affine') && (o?.momentum === undefined || (fin(o.momentum) && o.momentum >= 0 && o.momentum <= 1)) && (o?.eps === undefined || (f32pos(o.eps) && o.eps >= 2 ** -126)), opts: optionBag({ momentum: fc.double({ min: -0.5, max: 1.5, noNaN: true }), eps: fc.constantFrom(1e-5, 0, -1, 1e-3), affine: fc.boolean() }) },
  { name: 'Hardtanh', make: (a, b) => new sg.nn.Hardtanh(a as number, b as number), valid: (a, b) => (a === undefined || fin(a)) && (b === undefined || fin(b)) && ((a as number) ?? -1) < ((b as number) ?? 1), opts: fc.constant(undefined) },
  { name: 'Dropout', make: (a, _b, o) => new sg.nn.Dropout(a as number, o as any), valid: (a, _b, o) => (a === undefined || (fin(a) && a >= 0 && a < 1)) && (o?.seed === undefined || (Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32)), opts: optionBag({ seed: fc.integer({ min: 0, max: 99 }) }) },
  {
    name: 'VectorQuantizer', make: (a, b, o) => new sg.nn.VectorQuantizer(a as number, b as number, o as any),
    valid: (a, b, o) => posInt(a) && posInt(b) && bools(o, 'ema', 'kmeansInit') && (o?.beta === undefined || (fin(o.beta) && o.beta >= 0 && o.beta <= F32_MAX)) && (o?.decay === undefined || (fin(o.decay) && o.decay >= 0 && o.decay <= 1))
      && (o?.epsilon === undefined || (fin(o.epsilon) && o.epsilon >= 1e-30 && o.epsilon <= 1)) && (o?.kmeansIters === undefined || (Number.isInteger(o.kmeansIters) && o.kmeansIters >= 0 && o.kmeansIters <= 1000))
      && (o?.deadCodeThreshold === undefined || (fin(o.deadCodeThreshold) && o.deadCodeThreshold >= 0 && o.deadCodeThreshold <= F32_MAX)) && (o?.seed === undefined || (Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32)),
    opts: optionBag({ beta: fc.double({ min: -1, max: 2, noNaN: true }), ema: fc.boolean(), decay: fc.double({ min: -0.5, max: 1.5, noNaN: true }), epsilon: fc.constantFrom(1e-5, 0, -1), kmeansInit: fc.boolean(), kmeansIters: fc.constantFrom(0, 3, 2 ** 31, -1, 0.5), deadCodeThreshold: fc.constantFrom(0, 1, -1), seed: fc.integer({ min: 0, max: 99 }) }),
  },
  { name: 'Sign', make: (_a, _b, o) => new sg.nn.Sign(o as any), valid: (_a, _b, o) => o === undefined || ((o.grad === undefined || GRADS.includes(o.grad)) && (o.clipValue === undefined || f32pos(o.clipValue)) && (o.beta === undefined || f32pos(o.beta))), opts: optionBag({ grad: fc.constantFrom(...GRADS, 'x'), clipValue: fc.constantFrom(1, 0, -1), beta: fc.constantFrom(5, 0) }) },
];

describe('constructors', () => {
  prop(['sg.nn.Linear', 'sg.nn.BinaryLinear', 'sg.nn.QuantLinear', 'sg.nn.BatchNorm1d', 'sg.nn.Hardtanh', 'sg.nn.Dropout', 'sg.nn.VectorQuantizer', 'sg.nn.Sign', 'sg.nn.Module#registerParameter', 'sg.nn.Module#registerBuffer', 'sg.nn.Module#dispose'],
    'constructors build the documented parameters or reject hostile sizes/options clearly (options checked when given, nothing leaked)', fc.record({
      c: fc.integer({ min: 0, max: CTORS.length - 1 }), a: layerCount, b: layerCount, optsSeed: fc.integer(),
    }).chain((r) => CTORS[r.c].opts.map((o) => ({ ...r, o }))), async ({ c, a, b, o }) => {
      const C = CTORS[c];
      const opts = o as Record<string, any> | null | undefined;
      // null options mean the defaults; any other non-object is a wrong type.
      const valid = (opts === undefined || opts === null || isObj(opts)) && C.valid(a, b, isObj(opts) ? opts : undefined);
      await runCase(() => C.make(a, b, opts), {
        fn: C.name, expect: valid ? 'ok' : 'error',
        kept: (m) => owned(m),
        check: (m) => {
          if (!(m instanceof sg.nn.Module)) throw new Error(`${C.name} did not build a Module`);
          for (const t of owned(m)) if (t.disposed || Array.from(t.dataSync()).some((v) => !Number.isFinite(v))) throw new Error(`${C.name}: a parameter or buffer is not finite`);
          if (C.name === 'Linear') expectShape((m as sg.nn.Linear).weight, [b as number, a as number], 'float32', 'Linear.weight');
        },
      });
    }, 2);

  prop(['sg.nn.Sequential', 'sg.nn.Module#registerModule', 'sg.nn.Module#modules', 'sg.nn.Module#namedModules', 'sg.nn.Module#train', 'sg.nn.Module#eval'],
    'Sequential takes Modules and functions only; train/eval reach every child', fc.record({ layers: fc.array(fc.oneof(fc.constantFrom('relu', 'tanh', 'linear', 'flatten'), hostile), { maxLength: 4 }), mode: fc.oneof(fc.boolean(), hostile) }), async ({ layers, mode }) => {
      const built = layers.map((l) => (l === 'relu' ? new sg.nn.ReLU() : l === 'tanh' ? new sg.nn.Tanh() : l === 'linear' ? new sg.nn.Linear(2, 2, { seed: 1 }) : l === 'flatten' ? new sg.nn.Flatten() : l));
      // A plain function is a step too (it becomes a parameterless child module).
      const allModules = built.every((m) => m instanceof sg.nn.Module || typeof m === 'function');
      await runCase(() => {
        const s = new sg.nn.Sequential(...(built as sg.nn.Module[]));
        s.train(mode as boolean);
        const a = s.namedModules().every(([, m]) => m.training === (mode === undefined ? true : (mode as boolean)));
        s.eval();
        const b = s.modules().every((m) => m.training === false);
        return { a, b, n: s.modules().length };
      }, {
        fn: 'Sequential', expect: allModules ? (mode === undefined || typeof mode === 'boolean' ? 'ok' : 'either') : 'error',
        check: (r) => { if ((!r.a && (mode === undefined || typeof mode === 'boolean')) || !r.b || r.n !== built.length) throw new Error(`Sequential: train/eval/modules inconsistent ${JSON.stringify(r)}`); },
      });
      for (const m of built) if (m instanceof sg.nn.Module) m.dispose();
    });
});

/** float64 reference of x·Wᵀ + b. */
function linearRef(x: ArrayLike<number>, B: number, I: number, w: ArrayLike<number>, O: number, bias: ArrayLike<number> | null): { y: number[]; mag: number[] } {
  const y: number[] = []; const mag: number[] = [];
  for (let r = 0; r < B; r++) for (let o = 0; o < O; o++) {
    let s = bias ? bias[o] : 0; let m = Math.abs(s);
    for (let i = 0; i < I; i++) { s += x[r * I + i] * w[o * I + i]; m += Math.abs(x[r * I + i] * w[o * I + i]); }
    y.push(s); mag.push(m);
  }
  return { y, mag };
}

describe('forward passes', () => {
  const layerKind = fc.constantFrom('Linear', 'BinaryLinear', 'BinaryLinearFloat', 'QuantLinear', 'BatchNorm1d', 'ReLU', 'Tanh', 'Sigmoid', 'Hardtanh', 'Flatten', 'Dropout', 'Sequential');
  prop(['sg.nn.Linear#forward', 'sg.nn.BinaryLinear#forward', 'sg.nn.BinaryLayer#binaryWeight', 'sg.nn.BinaryLayer#channelScales', 'sg.nn.QuantLinear#forward', 'sg.nn.QuantLayer#computeWeightScale', 'sg.nn.QuantLayer#weightScale', 'sg.nn.QuantLayer#quantizedWeight', 'sg.nn.QuantLayer#inputScale',
    'sg.nn.ReLU', 'sg.nn.ReLU#apply', 'sg.nn.Tanh', 'sg.nn.Tanh#apply', 'sg.nn.Sigmoid', 'sg.nn.Sigmoid#apply', 'sg.nn.Hardtanh#apply', 'sg.nn.Flatten', 'sg.nn.Flatten#forward', 'sg.nn.Dropout#forward', 'sg.nn.Sequential#forward', 'sg.nn.Module#call', 'sg.nn.Module#checkAlive'],
    'forward on good and hostile inputs (wrong width/rank/dtype, NaN/Infinity, empty batch) in train and eval, and on a disposed layer: reference values or a clear error; a rejected call leaves parameters and buffers as they were, and a clean forward still works after', fc.record({
      kind: layerKind, inF: fc.integer({ min: 1, max: 6 }), outF: fc.integer({ min: 1, max: 5 }), batch: dim(5), training: fc.boolean(), grad: fc.boolean(), viaCall: fc.boolean(),
      xForm: fc.constantFrom('good', 'good', 'good', 'wide', 'rank1', 'rank3', 'int32', 'nan', 'inf', 'hostile'), bad: hostile, seed: fc.integer({ min: 0, max: 999 }), disposed: fc.boolean(),
    }).map((r) => ({ ...r, disposed: r.disposed && r.seed % 4 === 0 })), async ({ kind, inF, outF, batch, training, grad, viaCall, xForm, bad, seed, disposed }) => {
      const layer: sg.nn.Module =
        kind === 'Linear' ? new sg.nn.Linear(inF, outF, { seed }) :
        kind === 'BinaryLinear' ? new sg.nn.BinaryLinear(inF, outF, { seed, scale: seed % 2 === 0, bias: seed % 3 === 0 }) :
        kind === 'BinaryLinearFloat' ? new sg.nn.BinaryLinear(inF, outF, { seed, binarizeInputs: false }) :
        kind === 'QuantLinear' ? new sg.nn.QuantLinear(inF, outF, { seed, perChannel: seed % 2 === 0, learnScale: seed % 5 === 0 }) :
        kind === 'BatchNorm1d' ? new sg.nn.BatchNorm1d(inF, { affine: seed % 2 === 0 }) :
        kind === 'ReLU' ? new sg.nn.ReLU() : kind === 'Tanh' ? new sg.nn.Tanh() : kind === 'Sigmoid' ? new sg.nn.Sigmoid() :
        kind === 'Hardtanh' ? new sg.nn.Hardtanh(-0.5, 0.75) : kind === 'Flatten' ? new sg.nn.Flatten() : kind === 'Dropout' ? new sg.nn.Dropout(0.3, { seed }) :
        new sg.nn.Sequential(new sg.nn.Linear(inF, outF, { seed }), new sg.nn.ReLU(), new sg.nn.Flatten());
      layer.train(training);
      // A disposed layer: its parameters and buffers are freed, so a forward must refuse to read them.
      if (disposed) layer.dispose();
      const vals = (n: number, salt: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed + salt) * 2);
      const shapeOf = (form: string): number[] => (form === 'wide' ? [batch, inF + 1] : form === 'rank1' ? [inF] : form === 'rank3' ? [batch, inF, 1] : [batch, inF]);
      const xShape = shapeOf(xForm);
      const xs = vals(xShape.reduce((a, b) => a * b, 1), 0);
      if ((xForm === 'nan' || xForm === 'inf') && xs.length) xs[0] = xForm === 'nan' ? NaN : Infinity;
      const x: unknown = xForm === 'hostile' ? bad : sg.tensor(xs, xShape, { dtype: xForm === 'int32' ? 'float32' : 'float32', requiresGrad: grad });
      const xi = xForm === 'int32' ? sg.tensor(xs.map(Math.round), xShape, { dtype: 'int32' }) : null;
      const input = xi ?? x;
      const state = owned(layer);
      const elementwise = ['ReLU', 'Tanh', 'Sigmoid', 'Hardtanh', 'Dropout', 'Flatten'].includes(kind);
      const dense = !elementwise;
      // BatchNorm1d normalizes [..., features]: every leading axis is a batch axis.
      const shapeOk = elementwise ? kind !== 'Flatten' || xShape.length >= 1
        : kind === 'BatchNorm1d' ? xShape.length >= 2 && xShape[xShape.length - 1] === inF
        : xShape.length >= 1 && xShape[xShape.length - 1] === inF; // dense layers take [..., in]
      let ok = xForm !== 'hostile' && xForm !== 'int32' && shapeOk;
      // Flatten is a reshape: it may accept any dtype.
      const flattenInt = kind === 'Flatten' && xForm === 'int32';
      if (kind === 'BatchNorm1d' && training && batch < 2) ok = false;
      if (disposed && dense) ok = false;
      const nanOk = !(xForm === 'nan' && (kind === 'BinaryLinear') && batch > 0);
      // Non-finite inputs: accepted (propagating) or rejected, but never damaging later calls.
      const special = (xForm === 'nan' || xForm === 'inf') && batch > 0;
      const name = kind.startsWith('BinaryLinear') ? 'BinaryLinear' : kind === 'Sequential' ? ['Linear', 'Sequential'] : kind;
      const snap = snapshot(state);
      await runCase(() => {
        const y = viaCall ? layer.call(input as sg.Tensor) : layer.forward(input as sg.Tensor);
        if (grad && y.requiresGrad && y.size > 0 && !special) {
          const l = sg.sum(y);
          sg.backward(l);
          l.dispose();
        }
        return y;
      }, {
        fn: name, expect: flattenInt ? 'either' : ok && !special ? 'ok' : ok && special ? (nanOk ? 'either' : 'error') : 'error', state, mutates: training || grad,
        kept: () => [...state.map((t) => t.grad), x instanceof sg.Tensor ? x.grad : null],
        check: (y) => {
          const X = Float32Array.from(xi ? xs.map(Math.round) : xs);
          // Dense layers map [..., in] to [..., out] (rows = the product of the leading axes); Sequential flattens that to 2-D.
          const rows = X.length / inF;
          const denseShape = [...xShape.slice(0, -1), outF];
          const seqShape = [denseShape[0], denseShape.slice(1).reduce((a, b) => a * b, 1)];
          if (kind === 'Linear' || kind === 'Sequential') {
            const L = (kind === 'Linear' ? layer : layer.modules()[0]) as sg.nn.Linear;
            const r = linearRef(X, rows, inF, L.weight.dataSync(), outF, L.bias?.dataSync() ?? null);
            const want = kind === 'Linear' ? r.y : r.y.map((v) => Math.max(v, 0));
            expectShape(y, kind === 'Linear' ? denseShape : seqShape, 'float32', kind);
            const got = y.dataSync();
            if (!special) want.forEach((w, i) => expectClose([got[i]], [w], `${kind}[${i}]`, { abs: 1e-5 * r.mag[i] + 1e-6 }));
          } else if (kind === 'BatchNorm1d' && !training && !special) {
            const bn = layer as sg.nn.BatchNorm1d;
            const want = bnForwardEvalRef(X, X.length / inF, inF, bn.runningMean.dataSync() as Float32Array, bn.runningVar.dataSync() as Float32Array, bn.eps, (bn.weight?.dataSync() as Float32Array) ?? null, (bn.bias?.dataSync() as Float32Array) ?? null);
            expectClose(y.dataSync(), want, 'BatchNorm1d eval', { ulps: 2 });
          } else if (elementwise && !special) {
            const f = kind === 'ReLU' ? (v: number) => Math.max(v, 0) : kind === 'Tanh' ? Math.tanh : kind === 'Sigmoid' ? (v: number) => 1 / (1 + Math.exp(-v)) : kind === 'Hardtanh' ? (v: number) => Math.min(Math.max(v, -0.5), 0.75) : (v: number) => v;
            if (kind !== 'Dropout' || !training) expectClose(y.dataSync(), Array.from(X, f), kind, { abs: 1e-6, ulps: 3 });
            else if (Array.from(y.dataSync()).some((v, i) => v !== 0 && Math.abs(v - X[i] / 0.7) > 1e-5 * Math.abs(X[i]) + 1e-6)) throw new Error('Dropout: kept values are not x / (1 - p)');
          } else if (kind.startsWith('BinaryLinear') || kind === 'QuantLinear') {
            expectShape(y, denseShape, 'float32', kind);
            if (!special && Array.from(y.dataSync()).some((v) => !Number.isFinite(v))) throw new Error(`${kind}: non-finite output for finite input`);
          }
        },
      });
      // Rejected or not, a clean forward must still work and leave memory flat.
      if (dense && !disposed && !(kind === 'BatchNorm1d' && training) && (xForm !== 'good')) {
        void snap;
        const before = stats();
        const clean = sg.tensor(vals(2 * inF, 5), [2, inF]);
        let err: unknown = null;
        try { sg.noGrad(() => layer.forward(clean)).dispose(); } catch (e) { err = e; }
        clean.dispose();
        if (err) throw new Error(`${kind}: a clean forward fails after a ${xForm} input: ${(err as Error).message}`);
        const after = stats();
        if (after.tensors !== before.tensors) throw new Error(`${kind}: clean forward leaked`);
      }
      free(x, xi);
      layer.dispose();
    }, 3);
});

describe('Module API', () => {
  prop(['sg.nn.Module', 'sg.nn.Module#stateDict', 'sg.nn.Module#loadStateDict', 'sg.nn.Module#namedParameters', 'sg.nn.Module#namedBuffers', 'sg.nn.Module#parameters', 'sg.nn.Module#binaryParameters', 'sg.nn.Module#nonBinaryParameters', 'sg.nn.Module#param', 'sg.nn.Module#optionalParam', 'sg.nn.Module#buffer',
    'sg.nn.Module#checkStateValue', 'sg.nn.QuantLayer#checkStateValue', 'sg.nn.VectorQuantizer#checkStateValue'],
    'loadStateDict copies matching tensors, or rejects missing/extra/wrong-shape/wrong-dtype/disposed/aliased entries and values a layer cannot run with (negative variance or range, non-finite codes, a bad init flag) without writing anything', fc.record({
      edit: fc.constantFrom('same', 'fresh', 'missing', 'extra', 'shape', 'dtype', 'disposed', 'hostile', 'null', 'self', 'nonStrictExtra', 'range'), strict: fc.oneof(fc.boolean(), fc.constant(undefined), hostile), seed: fc.integer({ min: 0, max: 99 }),
    }), async ({ edit, strict, seed }) => {
      const build = (s: number) => new sg.nn.Sequential(new sg.nn.BinaryLinear(3, 4, { seed: s, bias: true }), new sg.nn.BatchNorm1d(4), new sg.nn.Linear(4, 2, { seed: s + 1 }),
        new sg.nn.QuantLinear(2, 2, { seed: s + 2 }), new sg.nn.VectorQuantizer(3, 2, { seed: s + 3 }));
      const m = build(seed);
      const donor = build(seed + 7);
      const names = m.parameters().length + m.namedBuffers().length;
      if (Object.keys(m.stateDict()).length !== names) throw new Error('stateDict does not list every parameter and buffer');
      if (m.binaryParameters().length + m.nonBinaryParameters().length !== m.parameters().length || m.binaryParameters().length !== 1) throw new Error('binaryParameters/nonBinaryParameters do not partition parameters');
      const dict: Record<string, unknown> = { ...donor.stateDict() };
      const extra = sg.tensor([1]);
      const wrong = sg.zeros([5]);
      const wrongD = sg.zeros([4], { dtype: 'int32' });
      const gone = sg.zeros([4]); gone.dispose();
      // Values each layer refuses to run with (well-typed and well-shaped).
      const RANGE: [string, () => sg.Tensor][] = [
        ['1.runningVar', () => sg.tensor([1, -1, 1, 1])], ['1.runningMean', () => sg.tensor([0, Infinity, 0, 0])], ['3.inputRange', () => sg.tensor(-1)],
        ['4.clusterSize', () => sg.tensor([1, -0.5, 1])], ['4.codebook', () => sg.tensor([[0, 1], [NaN, 0], [1, 1]])], ['4.initialized', () => sg.tensor(2)],
      ];
      const [rangeName, rangeMake] = RANGE[seed % RANGE.length];
      const outOfRange = edit === 'range' ? rangeMake() : null;
      const k0 = '2.bias';
      let state: unknown = dict;
      switch (edit) {
        case 'same': break;
        case 'fresh': state = m.stateDict(); break;
        case 'missing': delete dict[k0]; break;
        case 'extra': dict['9.weight'] = extra; break;
        case 'nonStrictExtra': dict['9.weight'] = extra; break;
        case 'shape': dict[k0] = wrong; break;
        case 'dtype': dict[k0] = wrongD; break;
        case 'disposed': dict['1.runningMean'] = gone; break;
        case 'hostile': dict[k0] = 5; break;
        case 'null': state = null; break;
        case 'self': dict['1.runningVar'] = m.stateDict()['1.runningVar']; break;
        case 'range': dict[rangeName] = outOfRange; break;
      }
      const strictOpt = edit === 'nonStrictExtra' ? { strict: false } : { strict };
      const isStrict = strictOpt.strict !== false;
      const ok = edit === 'same' || edit === 'fresh' || edit === 'self' || edit === 'nonStrictExtra' || (edit === 'extra' && !isStrict) || (edit === 'missing' && !isStrict);
      await runCase(() => m.loadStateDict(state as any, strictOpt as any), {
        fn: 'loadStateDict', expect: typeof strictOpt.strict !== 'boolean' && strictOpt.strict !== undefined && edit !== 'shape' && edit !== 'dtype' && edit !== 'disposed' && edit !== 'hostile' && edit !== 'null' && edit !== 'range' ? 'either' : ok ? 'ok' : 'error', state: owned(m), mutates: true,
        args: edit === 'range' && (strictOpt.strict == null || typeof strictOpt.strict === 'boolean') ? [rangeName] : undefined,
        check: () => {
          for (const [name, t] of Object.entries(m.stateDict())) {
            const src = (state as Record<string, sg.Tensor>)[name];
            if (src instanceof sg.Tensor && !src.disposed) expectClose(Array.from(t.dataSync()), Array.from(src.dataSync()), `loadStateDict ${name}`, { signedZero: true });
          }
        },
      });
      free(extra, wrong, wrongD, outOfRange);
      m.dispose();
      donor.dispose();
    });

  prop(['sg.summary', 'sg.nn.summary', 'sg.nn.Linear#summaryMacs', 'sg.nn.BinaryLinear#summaryMacs', 'sg.nn.QuantLinear#summaryMacs', 'sg.nn.VectorQuantizer#summaryMacs', 'sg.nn.Dropout#summaryMacs', 'sg.nn.Flatten#summaryMacs',
    'sg.nn.Sequential#inputWidth', 'sg.nn.Linear#inputWidth', 'sg.nn.BinaryLinear#inputWidth', 'sg.nn.QuantLinear#inputWidth', 'sg.nn.BatchNorm1d#inputWidth', 'sg.nn.VectorQuantizer#inputWidth'],
    'summary counts parameters and per-sample MACs of any model (input width read from its first layer), and rejects non-modules clearly', fc.record({ model: fc.oneof(fc.constantFrom('mlp', 'bnn', 'empty', 'quant', 'bnFirst', 'vq', 'binaryFloatIn'), hostile), options: fc.constantFrom<unknown>(undefined, null, 5) }), async ({ model, options }) => {
    const since = stats();
    const L = sg.nn;
    const m =
      model === 'mlp' ? new L.Sequential(new L.Linear(3, 4), new L.ReLU(), new L.Linear(4, 2)) : model === 'bnn' ? new L.Sequential(new L.BinaryLinear(5, 3), new L.BatchNorm1d(3)) :
      model === 'quant' ? new L.Sequential(new L.QuantLinear(3, 4), new L.ReLU(), new L.QuantLinear(4, 2, { activationBits: null })) :
      model === 'bnFirst' ? new L.Sequential(new L.BatchNorm1d(3), new L.Flatten(), new L.Dropout(0.5), new L.Linear(3, 2)) :
      model === 'vq' ? new L.Sequential(new L.VectorQuantizer(5, 3), new L.Linear(3, 2)) :
      model === 'binaryFloatIn' ? new L.Sequential(new L.BinaryLinear(4, 3, { binarizeInputs: false }), new L.Sign(), new L.BinaryLinear(3, 2)) :
      model === 'empty' ? new L.Sequential() : model;
    // Buffers (running statistics, the EMA codebook) count as non-trainable parameters, as in Larq's summary; observer and EMA statistics do not.
    const want: Record<string, { params: number; macs: { binary: number; binaryWeights: number; int8: number; float: number } }> = {
      mlp: { params: 3 * 4 + 4 + 4 * 2 + 2, macs: { binary: 0, binaryWeights: 0, int8: 0, float: 3 * 4 + 4 * 2 } },
      bnn: { params: 15 + 3 * 4, macs: { binary: 15, binaryWeights: 0, int8: 0, float: 3 } },
      quant: { params: 3 * 4 + 4 + 4 * 2 + 2, macs: { binary: 0, binaryWeights: 0, int8: 12, float: 8 } },
      bnFirst: { params: 3 * 4 + 3 * 2 + 2, macs: { binary: 0, binaryWeights: 0, int8: 0, float: 3 + 6 } },
      vq: { params: 5 * 3 + 3 * 2 + 2, macs: { binary: 0, binaryWeights: 0, int8: 0, float: 5 * 3 + 6 } },
      binaryFloatIn: { params: 12 + 6, macs: { binary: 6, binaryWeights: 12, int8: 0, float: 0 } },
      empty: { params: 0, macs: { binary: 0, binaryWeights: 0, int8: 0, float: 0 } },
    };
    const w = typeof model === 'string' ? want[model] : undefined;
    await runCase(() => sg.summary(m as sg.nn.Module, options as any), {
      // null options mean the defaults; a number is a wrong type.
      // Its traced forward may cache data with the model's tensors (a VQ codebook's norms): bytes are checked once the model is freed.
      fn: 'summary', caches: true, expect: m instanceof sg.nn.Module && options !== 5 ? 'ok' : 'error',
      check: (s) => {
        if (s.totalParams !== w!.params || typeof s.table !== 'string') throw new Error(`summary(${model}): totalParams ${s.totalParams}, want ${w!.params}`);
        if (JSON.stringify(s.macs) !== JSON.stringify(w!.macs)) throw new Error(`summary(${model}): MACs ${JSON.stringify(s.macs)}, want ${JSON.stringify(w!.macs)}`);
      },
    });
    if (m instanceof sg.nn.Module) m.dispose();
    expectNoLeakSince(since, 'summary');
  }, 0.5);
});

describe('accessors', () => {
  prop(['sg.nn.Linear#weight', 'sg.nn.Linear#bias', 'sg.nn.BinaryLayer#weight', 'sg.nn.BinaryLayer#bias', 'sg.nn.QuantLayer#weight', 'sg.nn.QuantLayer#bias', 'sg.nn.QuantLayer#weightQmax',
    'sg.nn.Sequential#layers', 'sg.nn.VectorQuantizer#codebook'],
    'layer accessors return the registered tensors, with the documented shapes, presence and bit widths', fc.record({
      i: fc.integer({ min: 1, max: 6 }), o: fc.integer({ min: 1, max: 6 }), bias: fc.boolean(), bits: fc.integer({ min: 2, max: 8 }), affine: fc.boolean(), ema: fc.boolean(),
    }), async ({ i, o, bias, bits, affine, ema }) => {
      const lin = new sg.nn.Linear(i, o, { bias });
      const bin = new sg.nn.BinaryLinear(i, o, { bias });
      const q = new sg.nn.QuantLinear(i, o, { bias, weightBits: bits });
      const bn = new sg.nn.BatchNorm1d(o, { affine });
      const vq = new sg.nn.VectorQuantizer(o, i, { ema });
      const seq = new sg.nn.Sequential(lin, new sg.nn.ReLU());
      try {
        const byName = (m: sg.nn.Module) => Object.fromEntries([...m.namedParameters(), ...m.namedBuffers()]);
        for (const [m, name] of [[lin, 'Linear'], [bin, 'BinaryLinear'], [q, 'QuantLinear']] as const) {
          const d = byName(m);
          if (m.weight !== d.weight || m.weight.shape.join() !== `${o},${i}`) throw new Error(`${name}.weight is not the registered [out, in] parameter`);
          if ((m.bias ?? undefined) !== d.bias || (m.bias !== null) !== bias) throw new Error(`${name}.bias presence/identity wrong`);
        }
        if (q.weightQmax !== 2 ** (bits - 1) - 1) throw new Error(`QuantLinear.weightQmax ${q.weightQmax} for ${bits} bits`);
        const d = byName(bn);
        if (bn.runningMean !== d.runningMean || bn.runningVar !== d.runningVar || bn.runningMean.shape.join() !== `${o}`) throw new Error('BatchNorm1d running statistics accessors');
        if ((bn.weight !== null) !== affine || (bn.bias !== null) !== affine) throw new Error('BatchNorm1d weight/bias presence');
        expectClose(bn.runningVar.dataSync(), new Array(o).fill(1), 'runningVar init');
        if (seq.layers.length !== 2 || seq.layers[0] !== lin) throw new Error('Sequential.layers');
        if (vq.codebook !== byName(vq).codebook || vq.codebook.shape.join() !== `${o},${i}` || vq.codebook.requiresGrad !== !ema) throw new Error('VectorQuantizer.codebook');
      } finally {
        for (const m of [seq, bin, q, bn, vq]) m.dispose();
      }
    }, 0.5);
});

describe('VectorQuantizer', () => {
  prop(['sg.nn.VectorQuantizer#forward', 'sg.nn.VectorQuantizer#quantize'],
    'training and eval batches (empty, NaN, Infinity, wrong width): nearest codes, finite codebook, usage in [0, 1]; a rejected batch leaves codebook and EMA state unchanged', fc.record({
      K: fc.integer({ min: 1, max: 5 }), D: fc.integer({ min: 1, max: 4 }), N: dim(8), ema: fc.boolean(), training: fc.boolean(), kmeansInit: fc.boolean(), zForm: fc.constantFrom('good', 'good', 'nan', 'inf', 'wide'), seed: fc.integer({ min: 0, max: 99 }), twice: fc.boolean(),
    }).chain((r) => matrix(fc.constant(r.N), fc.constant(r.zForm === 'wide' ? r.D + 1 : r.D), finiteF32).map((z) => ({ ...r, z }))),
    async ({ K, D, N, ema, training, kmeansInit, zForm, seed, twice, z }) => {
      const since = stats();
      const vq = new sg.nn.VectorQuantizer(K, D, { ema, kmeansInit, kmeansIters: 3, seed });
      vq.train(training);
      if ((zForm === 'nan' || zForm === 'inf') && z.data.length) z.data[z.data.length - 1] = zForm === 'nan' ? NaN : -Infinity;
      const tz = make(z, !ema);
      const special = (zForm === 'nan' || zForm === 'inf') && N > 0;
      const ok = zForm !== 'wide' && !special;
      await runCase(() => {
        const r = vq.quantize(tz);
        if (twice) { const r2 = vq.quantize(tz); for (const t of [r2.zq, r2.indices, r2.loss, r2.commitmentLoss, r2.codebookLoss]) t.dispose(); }
        return r;
      }, {
        // The codebook's norms are cached with it (freed with the layer): bytes are checked once the layer is disposed.
        fn: 'VectorQuantizer', caches: true, expect: ok ? (N === 0 ? 'either' : 'ok') : special && !training ? 'either' : 'error', state: owned(vq), mutates: training,
        check: (r) => {
          const cb = Array.from(vq.codebook.dataSync());
          if (cb.some((v) => !Number.isFinite(v))) throw new Error('VectorQuantizer: codebook holds non-finite values');
          if (!(r.usage >= 0 && r.usage <= 1) || !(r.perplexity >= 0 && r.perplexity <= K + 1e-9)) throw new Error(`VectorQuantizer: usage ${r.usage}, perplexity ${r.perplexity}`);
          const Z = tz.dataSync(); const I = r.indices.dataSync();
          const cbUsed = training && ema ? null : cb;
          if (cbUsed) for (let i = 0; i < N; i++) {
            if (Array.from(Z.subarray(i * D, (i + 1) * D)).some((v) => !Number.isFinite(v))) continue;
            const dist = (k: number) => { let s = 0; for (let d = 0; d < D; d++) s += (Z[i * D + d] - cbUsed[k * D + d]) ** 2; return s; };
            const best = Math.min(...Array.from({ length: K }, (_, k) => dist(k)));
            // Scores are float32 (‖c‖² − 2 z·c): ties within float32 resolution of the magnitudes are allowed.
            const mag = Array.from(Z.subarray(i * D, (i + 1) * D)).reduce((s2, v) => s2 + v * v, 0) + Math.max(...Array.from({ length: K }, (_, k) => cbUsed.slice(k * D, (k + 1) * D).reduce((s2, v) => s2 + v * v, 0)));
            if (dist(I[i]) > best * (1 + 1e-5) + 1e-5 * mag + 1e-5) throw new Error(`VectorQuantizer: row ${i} took code ${I[i]}, not the nearest`);
          }
          if (!special) for (const t of [r.zq, r.loss]) if (Array.from(t.dataSync()).some((v) => !Number.isFinite(v))) throw new Error('VectorQuantizer: non-finite zq or loss');
        },
        kept: (r) => [r.loss, r.zq, r.indices, r.commitmentLoss, r.codebookLoss, tz.grad],
      });
      free(tz);
      vq.dispose();
      expectNoLeakSince(since, 'VectorQuantizer');
    }, 2);
});


