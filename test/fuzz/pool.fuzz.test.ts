// Pooling ops and layers, and BatchNorm2d: random NHWC images (and hostile
// tensors, sizes, strides, paddings and option bags) against a brute-force
// reference written here (its own window geometry, float32 sums in row-major
// window order), with gradients; layers against their ops and their frozen form.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { anyF32, DTYPES, hostile, hostileOption, make, optionBag, plainF32, valuesFor } from './arbitraries.js';
import { expectClearError, expectClose, expectNoLeakSince, expectShape, f32, free, prop, runCase, stats, useRuntime } from './oracle.js';

useRuntime();

const MAX_WINDOW = 2 ** 16;
const isIntIn = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
const plainObject = (o: unknown) => o !== null && typeof o === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(o));

/** A size or stride as the ops read it: an integer or a pair; null for invalid. */
function pairOf(v: unknown): [number, number] | null {
  if (isIntIn(v, 1, MAX_WINDOW)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && isIntIn(v[0], 1, MAX_WINDOW) && isIntIn(v[1], 1, MAX_WINDOW)) return [v[0], v[1]];
  return null;
}

interface Win { kh: number; kw: number; sh: number; sw: number; pt: number; pl: number; oh: number; ow: number }

/**
 * The window geometry written out independently of conv-geometry.ts; null when
 * the ops must reject it. 'same' is TF's: out = ceil(in / stride), the extra
 * padding row/column at the bottom/right.
 */
function windowOf(H: number, W: number, size: unknown, stride: unknown, padding: unknown): Win | null {
  const k = pairOf(size);
  if (k === null) return null;
  const s = stride === undefined || stride === null ? k : pairOf(stride);
  if (s === null) return null;
  const axis = (n: number, kk: number, ss: number, pad: unknown, which: 0 | 1): [number, number, number] | null => {
    let before: number, after: number;
    if (pad === undefined || pad === null || pad === 'valid') [before, after] = [0, 0];
    else if (pad === 'same') {
      const total = Math.max(0, (Math.ceil(n / ss) - 1) * ss + kk - n);
      [before, after] = [Math.floor(total / 2), total - Math.floor(total / 2)];
    } else {
      const side = (pad as number[][])[which];
      [before, after] = [side[0], side[1]];
    }
    if (before >= kk || after >= kk || n + before + after < kk) return null;
    return [before, after, Math.floor((n + before + after - kk) / ss) + 1];
  };
  const explicitOk = padding === undefined || padding === null || padding === 'same' || padding === 'valid' ||
    (Array.isArray(padding) && padding.length === 2 && padding.every((side) => Array.isArray(side) && side.length === 2 && side.every((v) => isIntIn(v, 0, MAX_WINDOW))));
  if (!explicitOk || H < 1 || W < 1) return null;
  const h = axis(H, k[0], s[0], padding, 0);
  const w = axis(W, k[1], s[1], padding, 1);
  if (h === null || w === null) return null;
  return { kh: k[0], kw: k[1], sh: s[0], sw: s[1], pt: h[0], pl: w[0], oh: h[2], ow: w[2] };
}

/** Brute force: values and, for the gradient of sum(y), dx (max: to the first maximal cell; NaN never wins). */
function reference(kind: 'max' | 'avg', x: Float32Array, [N, H, W, C]: number[], g: Win): { y: number[]; dx: number[] } {
  const y: number[] = [];
  const dx = new Array(x.length).fill(0);
  for (let n = 0; n < N; n++) for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) for (let c = 0; c < C; c++) {
    const cells: number[] = [];
    for (let i = 0; i < g.kh; i++) for (let j = 0; j < g.kw; j++) {
      const h = oy * g.sh - g.pt + i;
      const w = ox * g.sw - g.pl + j;
      if (h >= 0 && h < H && w >= 0 && w < W) cells.push(((n * H + h) * W + w) * C + c);
    }
    if (kind === 'max') {
      let best = cells[0];
      for (const at of cells) if (x[at] > x[best] || (Number.isNaN(x[best]) && !Number.isNaN(x[at]))) best = at;
      y.push(x[best]);
      dx[best] += 1;
    } else {
      let s = 0;
      for (const at of cells) s = f32(s + x[at]);
      y.push(f32(s / cells.length));
      for (const at of cells) dx[at] = f32(dx[at] + f32(1 / cells.length));
    }
  }
  return { y, dx };
}

const paddingArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<unknown>('same', 'valid', undefined) },
  { weight: 2, arbitrary: fc.tuple(fc.tuple(fc.nat(2), fc.nat(2)), fc.tuple(fc.nat(2), fc.nat(2))) },
  { weight: 1, arbitrary: fc.oneof(hostileOption, fc.constantFrom<unknown>('full', [[1, -1], [0, 0]], [[0.5, 0], [0, 0]], [1, 1])) },
);
const sizeArb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 })) }, { weight: 1, arbitrary: hostile });
const strideArb = fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })) }, { weight: 1, arbitrary: hostileOption });
const imageShape = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 9 })).map((s) => [...s]) },
  { weight: 1, arbitrary: fc.constantFrom([2, 0, 3, 1], [1, 3, 0, 2], [3, 4, 5], [2, 2], [1, 2, 2, 2, 1]) },
);
const imageOf = (f32Arb: fc.Arbitrary<number>) => fc.record({ shape: imageShape, dtype: fc.oneof({ weight: 8, arbitrary: fc.constant<(typeof DTYPES)[number]>('float32') }, { weight: 1, arbitrary: fc.constantFrom(...DTYPES) }) })
  .chain(({ shape, dtype }) => valuesFor(dtype, shape.reduce((a, b) => a * b, 1), f32Arb).map((data) => ({ shape, dtype, data })));

describe('pooling ops', () => {
  prop(['sg.maxPool2d', 'sg.avgPool2d'], 'max/avg pooling of NHWC images equals the brute-force reference (padded cells never win or count; NaN never wins a max), with the gradient of the sum; bad tensors, sizes, strides, paddings and option bags are clear errors', fc.record({
    kind: fc.constantFrom<'max' | 'avg'>('max', 'avg'), x: imageOf(anyF32), size: sizeArb, stride: strideArb, padding: paddingArb,
    bag: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: hostile }), grad: fc.boolean(),
  }), async ({ kind, x, size, stride, padding, bag, grad }) => {
    const op = kind === 'max' ? 'maxPool2d' : 'avgPool2d';
    const t = make(x, grad);
    const options = bag === false ? { size, stride, padding } : bag;
    const g = bag === false && x.dtype === 'float32' && x.shape.length === 4 ? windowOf(x.shape[1], x.shape[2], size, stride, padding) : null;
    const fn = kind === 'max' ? sg.maxPool2d : sg.avgPool2d;
    await runCase(() => fn(t, options as sg.Pool2dOptions), {
      fn: op, expect: g === null ? 'error' : 'ok', args: ['x', 'size', 'stride', 'padding', 'options', 'window'], state: [t],
      check: (y) => {
        const [N, , , C] = x.shape;
        expectShape(y, [N, g!.oh, g!.ow, C], 'float32', op);
        expectClose(Array.from(y.dataSync()), reference(kind, Float32Array.from(x.data), x.shape, g!).y, op, { signedZero: true });
      },
    });
    if (g !== null && grad) {
      sg.tidy(() => sg.sum(fn(t, options as sg.Pool2dOptions)).backward());
      expectClose(Array.from(t.grad!.dataSync()), reference(kind, Float32Array.from(x.data), x.shape, g).dx, `${op} gradient`);
    }
    free(t);
  });

  prop(['sg.globalAvgPool2d'], 'the mean over H and W ([N, H, W, C] -> [N, C], float32 sums in row-major order) and its gradient 1/(H·W); non-images and empty H or W are clear errors', fc.record({
    x: imageOf(plainF32), grad: fc.boolean(), hostileX: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: hostile }),
  }), async ({ x, grad, hostileX }) => {
    const t = make(x, grad);
    const input = hostileX === false ? t : hostileX;
    const [N, H, W, C] = x.shape;
    const ok = hostileX === false && x.dtype === 'float32' && x.shape.length === 4 && H >= 1 && W >= 1;
    const want = ok ? reference('avg', Float32Array.from(x.data), x.shape, { kh: H, kw: W, sh: 1, sw: 1, pt: 0, pl: 0, oh: 1, ow: 1 }) : null;
    await runCase(() => sg.globalAvgPool2d(input as sg.Tensor), {
      fn: 'globalAvgPool2d', expect: ok ? 'ok' : 'error', args: ['x'], state: [t],
      check: (y) => {
        expectShape(y, [N, C], 'float32', 'globalAvgPool2d');
        expectClose(Array.from(y.dataSync()), want!.y, 'globalAvgPool2d', { signedZero: true });
      },
    });
    if (ok && grad) {
      sg.tidy(() => sg.sum(sg.globalAvgPool2d(t)).backward());
      expectClose(Array.from(t.grad!.dataSync()), want!.dx, 'globalAvgPool2d gradient');
    }
    free(t);
  });
});

describe('pooling layers', () => {
  prop(['sg.nn.MaxPool2d', 'sg.nn.MaxPool2d#forward', 'sg.nn.MaxPool2d#summaryMacs', 'sg.nn.AvgPool2d', 'sg.nn.AvgPool2d#forward', 'sg.nn.AvgPool2d#summaryMacs',
    'sg.nn.GlobalAvgPool2d', 'sg.nn.GlobalAvgPool2d#forward', 'sg.nn.GlobalAvgPool2d#freezeStage', 'sg.nn.GlobalAvgPool2d#summaryMacs'],
  'constructors accept what the ops accept (explicit padding smaller than the window) or fail clearly; forward equals the op bit for bit; a frozen Sequential of the layer predicts the same bits', fc.record({
    kind: fc.constantFrom('MaxPool2d', 'AvgPool2d', 'GlobalAvgPool2d'), size: sizeArb, options: optionBag({ stride: strideArb, padding: paddingArb }),
    x: imageOf(plainF32),
  }), async ({ kind, size, options, x }) => {
    const since = stats();
    const o = options as Record<string, unknown> | null | undefined;
    const optionsOk = o === undefined || o === null || (plainObject(o) && (o.stride === undefined || o.stride === null || pairOf(o.stride) !== null));
    const k = pairOf(size);
    const p = plainObject(o) ? o!.padding : undefined;
    const paddingOk = p === undefined || p === null || p === 'same' || p === 'valid' || (k !== null && Array.isArray(p) && p.length === 2 &&
      p.every((side, axis) => Array.isArray(side) && side.length === 2 && side.every((v) => isIntIn(v, 0, k[axis] - 1))));
    let layer: sg.nn.Module | null = null;
    try {
      layer = kind === 'MaxPool2d' ? new sg.nn.MaxPool2d(size as number, options as sg.nn.Pool2dLayerOptions) : kind === 'AvgPool2d' ? new sg.nn.AvgPool2d(size as number, options as sg.nn.Pool2dLayerOptions) : new sg.nn.GlobalAvgPool2d();
    } catch (e) {
      expectClearError(e, kind, ['size', 'stride', 'padding', 'options']);
    }
    const ctorOk = kind === 'GlobalAvgPool2d' || (k !== null && (typeof o !== 'object' || o === null || plainObject(o)) && optionsOk && paddingOk);
    if ((layer !== null) !== ctorOk) throw new Error(`new nn.${kind}(${fc.stringify(size)}, ${fc.stringify(options)}) ${layer === null ? 'was rejected' : 'was accepted'}`);
    if (layer === null) return;
    const l = layer as sg.nn.MaxPool2d & sg.nn.AvgPool2d;
    const t = make(x);
    const window = kind === 'GlobalAvgPool2d' ? null : { size: l.size, stride: l.stride, padding: l.padding };
    const image = x.dtype === 'float32' && x.shape.length === 4;
    const g = image && window ? windowOf(x.shape[1], x.shape[2], window.size, window.stride, window.padding) : null;
    const ok = image && (kind === 'GlobalAvgPool2d' ? x.shape[1] >= 1 && x.shape[2] >= 1 : g !== null);
    await runCase(() => layer!.forward(t), {
      fn: kind, expect: ok ? 'ok' : 'error', args: ['x', 'window', 'padding'], state: [t],
      check: (y) => {
        const want = sg.tidy(() => Array.from((kind === 'MaxPool2d' ? sg.maxPool2d(t, window!) : kind === 'AvgPool2d' ? sg.avgPool2d(t, window!) : sg.globalAvgPool2d(t)).dataSync()));
        expectClose(Array.from(y.dataSync()), want, `${kind}.forward`, { signedZero: true });
        if (x.shape[0] < 1) return;
        const model = new sg.nn.Sequential(layer!);
        const frozen = sg.freeze(model, { example: t });
        const got = sg.tidy(() => Array.from(frozen.predict(t).dataSync()));
        frozen.dispose();
        expectClose(got, want, `frozen ${kind}`, { signedZero: true });
        const macs = sg.summary(model, { example: t }).macs.float;
        const outSize = y.size;
        // Per sample: summary divides by the example's batch size.
        const expected = (kind === 'MaxPool2d' ? 0 : kind === 'AvgPool2d' ? outSize * g!.kh * g!.kw : t.size) / x.shape[0];
        if (macs !== expected) throw new Error(`summary of ${kind}: ${macs} float MACs, expected ${expected}`);
      },
    });
    free(t);
    layer.dispose();
    expectNoLeakSince(since, kind);
  });
});

describe('BatchNorm2d', () => {
  prop(['sg.nn.BatchNorm2d', 'sg.nn.BatchNorm2d#numChannels'],
    'the constructor checks numChannels and options; forward accepts only [N, H, W, C] float32 (training: N·H·W >= 2 and finite) and equals BatchNorm1d on the [N·H·W, C] rows bit for bit, running statistics included; a rejected call changes nothing', fc.record({
      channels: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 6 }) }, { weight: 1, arbitrary: hostile }),
      options: optionBag({ momentum: fc.double({ min: -0.5, max: 1.5, noNaN: true }), eps: fc.constantFrom(1e-5, 0, -1, 1e-3), affine: fc.boolean() }),
      x: imageOf(anyF32), sameC: fc.boolean(), training: fc.boolean(),
    }), async ({ channels, options, x, sameC, training }) => {
      const since = stats();
      let bn: sg.nn.BatchNorm2d | null = null;
      let twin: sg.nn.BatchNorm1d | null = null;
      try {
        bn = new sg.nn.BatchNorm2d(channels as number, options as sg.nn.BatchNormOptions);
      } catch (e) {
        expectClearError(e, 'BatchNorm2d', ['numChannels', 'momentum', 'eps', 'affine', 'options']);
      }
      // BatchNorm1d takes the same options: it must agree on accepting them.
      try {
        twin = new sg.nn.BatchNorm1d(channels as number, options as sg.nn.BatchNormOptions);
      } catch {
        twin = null;
      }
      if ((bn === null) !== (twin === null)) throw new Error(`BatchNorm2d and BatchNorm1d disagree on (${fc.stringify(channels)}, ${fc.stringify(options)})`);
      if (bn === null || twin === null) return;
      const C = bn.numChannels;
      if (C !== channels) throw new Error(`numChannels ${C} for ${channels}`);
      // Images with C channels when sameC (the last axis of the drawn shape replaced), else as drawn.
      const shape = sameC && x.shape.length === 4 ? [x.shape[0], x.shape[1], x.shape[2], C] : x.shape;
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Array.from({ length: n }, (_, i) => x.data[i % Math.max(1, x.data.length)] ?? 0);
      const t = sg.tensor(data, shape, { dtype: x.dtype });
      bn.train(training);
      twin.train(training);
      const rows = shape.length === 4 ? shape[0] * shape[1] * shape[2] : 0;
      const finite = data.every((v) => Number.isFinite(v));
      const ok = x.dtype === 'float32' && shape.length === 4 && shape[3] === C && (!training || (rows >= 2 && finite));
      // Finite values whose batch variance overflows float32 are refused too (as in BatchNorm1d).
      const huge = training && data.some((v) => Math.abs(v) > 1e18);
      await runCase(() => bn!.forward(t), {
        fn: 'BatchNorm2d', expect: ok ? (huge ? 'either' : 'ok') : 'error', args: ['x'], state: [t, bn.runningMean, bn.runningVar], mutates: training,
        check: (y) => {
          const want = sg.tidy(() => Array.from(twin!.forward(t.reshape([rows, C])).dataSync()));
          expectClose(Array.from(y.dataSync()), want, 'BatchNorm2d.forward', { signedZero: true });
          expectClose(Array.from(bn!.runningMean.dataSync()), Array.from(twin!.runningMean.dataSync()), 'BatchNorm2d runningMean', { signedZero: true });
          expectClose(Array.from(bn!.runningVar.dataSync()), Array.from(twin!.runningVar.dataSync()), 'BatchNorm2d runningVar', { signedZero: true });
        },
      });
      free(t);
      bn.dispose();
      twin.dispose();
      expectNoLeakSince(since, 'BatchNorm2d');
    });
});
