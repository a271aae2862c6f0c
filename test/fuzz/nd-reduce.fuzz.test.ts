// N-D reductions (issue 11): max/min over any axis or list of axes, argmin,
// logsumexp, softmax/logSoftmax over any axis or axes, crossEntropy on
// [..., C] logits. References: the scalar twins (max/min, softmax rows) run
// on each reduced group, and float64 loops; hostile axes and options.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { f32MaxAxisRef, f32MinAxisRef, f32SoftmaxRowsRef } from '../../src/reference/reduce.js';
import { floatTensor, finiteF32, hostile, hostileOption, make, shape, valuesFor } from './arbitraries.js';
import { expectClose, expectNoLeakSince, expectShape, free, prop, runCase, stats, useRuntime } from './oracle.js';

useRuntime();

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Flat indices of `shape` grouped by output position (row-major over the kept axes); each group row-major over the reduced ones. */
function groups(shape: readonly number[], axes: readonly number[]): number[][] {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const out: number[][] = Array.from({ length: size(kept.map((i) => shape[i])) }, () => []);
  const idx = new Array(shape.length).fill(0);
  for (let k = 0; k < size(shape); k++) {
    let rem = k;
    for (let i = shape.length - 1; i >= 0; i--) { idx[i] = rem % shape[i]; rem = Math.floor(rem / shape[i]); }
    let key = 0;
    for (const i of kept) key = key * shape[i] + idx[i];
    out[key].push(k);
  }
  return out;
}

/** The sorted axes an axis argument names, or null when it is invalid for rank r. */
function axesOf(ax: unknown, r: number, list: boolean): number[] | null {
  if (Array.isArray(ax) && !list) return null;
  const l = Array.isArray(ax) ? ax : [ax];
  if (!l.every((a) => typeof a === 'number' && Number.isInteger(a) && a >= -r && a < r)) return null;
  const n = (l as number[]).map((a) => (a < 0 ? a + r : a));
  return new Set(n).size === n.length ? n.sort((a, b) => a - b) : null;
}

function call(method: boolean, op: string, x: sg.Tensor, ...rest: unknown[]): any {
  return method ? (x as any)[op](...rest) : (sg as any)[op](x, ...rest);
}

const axisArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) }, { weight: 4, arbitrary: fc.integer({ min: -5, max: 4 }) },
  { weight: 4, arbitrary: fc.array(fc.integer({ min: -4, max: 3 }), { maxLength: 3 }) }, { weight: 1, arbitrary: hostile },
);
const keepArb = fc.oneof({ weight: 6, arbitrary: fc.oneof(fc.boolean(), fc.constant(undefined)) }, { weight: 1, arbitrary: hostileOption });
const isBool = (v: unknown) => v === undefined || typeof v === 'boolean';

describe('max / min / argmax / argmin over axes', () => {
  prop(['sg.min', 'sg.argmin', 'sg.Tensor#min', 'sg.Tensor#argmin', 'sg.max', 'sg.Tensor#max'],
    'max/min over any axis or list of axes (negative too) equal the twin on each group; argmin/argmax take one axis and give the twin\'s first index; the gradient is one 1 per group at an extreme element; bad axes, keepDims and empty reductions are clear errors',
    fc.record({
      op: fc.constantFrom('min', 'min', 'max', 'argmin', 'argmax'), x: floatTensor({ maxRank: 4, maxDim: 6, maxSize: 150 }),
      axis: axisArb, keepDims: keepArb, opts: fc.constantFrom('bag', 'bag', 'bag', 'null', 'none'), method: fc.boolean(),
    }), async ({ op, x, axis, keepDims, opts, method }) => {
      const since = stats();
      const r = x.shape.length;
      const options = opts === 'null' ? null : opts === 'none' ? undefined : { axis, keepDims };
      const ax = opts === 'bag' && axis !== null ? axis : undefined;
      const arg = op.startsWith('arg');
      const axes = ax === undefined ? null : axesOf(ax, r, !arg);
      const badAxis = ax !== undefined && axes === null;
      const badKeep = opts === 'bag' && !isBool(keepDims);
      const count = axes === null ? size(x.shape) : size(axes.map((a) => x.shape[a]));
      const valid = !badAxis && !badKeep && count > 0;
      const keep = opts === 'bag' && keepDims === true;
      const t = make(x, op === 'min' || op === 'max');
      await runCase(() => {
        const y = call(method, op, t, options) as sg.Tensor;
        if (op !== 'min' && op !== 'max') return y;
        // Backward through a sum: the gradient lands on t (kept), the intermediates go with y.
        sg.tidy(() => sg.sum(y).backward());
        return y;
      }, {
        fn: op, expect: valid ? 'ok' : 'error', args: badAxis || badKeep ? ['axis', 'keepDims'] : undefined, state: [t],
        kept: () => [t.grad], mutates: op === 'min' || op === 'max',
        check: (y: sg.Tensor) => {
          const red = axes ?? x.shape.map((_, i) => i);
          const outShape = axes === null ? (keep ? x.shape.map(() => 1) : []) : x.shape.flatMap((d, i) => (red.includes(i) ? (keep ? [1] : []) : [d]));
          expectShape(y, outShape, arg ? 'int32' : 'float32', op);
          const xs = Float32Array.from(x.data);
          const got = y.dataSync();
          const gs = groups(x.shape, red);
          const grad = t.grad?.dataSync();
          gs.forEach((g, j) => {
            const members = Float32Array.from(g.map((k) => xs[k]));
            const v = new Float32Array(1);
            const i = new Int32Array(1);
            (op === 'max' || op === 'argmax' ? f32MaxAxisRef : f32MinAxisRef)(members, v, i, 1, members.length, 1);
            expectClose([got[j]], [arg ? i[0] : v[0]], `${op}[${j}]`);
            if (grad) {
              const hits = g.filter((k) => grad[k] !== 0);
              if (hits.length !== 1 || grad[hits[0]] !== 1) throw new Error(`${op} gradient of group ${j}: ${hits.length} nonzero entries`);
              expectClose([xs[hits[0]]], [v[0]], `${op} gradient of group ${j} lands on an extreme element`);
            }
          });
        },
      });
      t.grad?.dispose();
      free(t);
      expectNoLeakSince(since, op);
    });
});

describe('logsumexp', () => {
  prop(['sg.logsumexp', 'sg.Tensor#logsumexp'],
    'logsumexp over any axes equals float64 m + log Σ exp(x - m) (all -inf is -inf, an empty reduction -inf, infinities and NaN propagate); its gradient is the float64 softmax of each group; bad axes, keepDims and options are clear errors',
    fc.record({
      x: floatTensor({ maxRank: 4, maxDim: 6, maxSize: 150 }, fc.oneof({ weight: 12, arbitrary: finiteF32 }, { weight: 1, arbitrary: fc.constantFrom(-Infinity, Infinity, NaN, 80, -80, 1e20) })),
      axis: axisArb, keepDims: keepArb, opts: fc.constantFrom('bag', 'bag', 'bag', 'null', 'none', 'hostile'), bad: fc.constantFrom(5, 'opts', [], true, new Map()), method: fc.boolean(),
    }), async ({ x, axis, keepDims, opts, bad, method }) => {
      const since = stats();
      const r = x.shape.length;
      const options = opts === 'null' ? null : opts === 'none' ? undefined : opts === 'hostile' ? bad : { axis, keepDims };
      const ax = opts === 'bag' && axis !== null ? axis : undefined;
      const axes = ax === undefined ? x.shape.map((_, i) => i) : axesOf(ax, r, true);
      const bag = opts === 'bag';
      const valid = opts !== 'hostile' && axes !== null && (!bag || isBool(keepDims));
      const keep = bag && keepDims === true;
      const finite = x.data.every(Number.isFinite);
      const t = make(x, finite);
      await runCase(() => {
        const y = call(method, 'logsumexp', t, options) as sg.Tensor;
        if (finite) sg.tidy(() => sg.sum(y).backward());
        return y;
      }, {
        fn: 'logsumexp', expect: valid ? 'ok' : 'error', args: opts === 'hostile' ? ['options'] : ['axis', 'keepDims'], state: [t], kept: () => [t.grad], mutates: finite,
        check: (y: sg.Tensor) => {
          const red = axes!;
          expectShape(y, x.shape.flatMap((d, i) => (red.includes(i) ? (keep ? [1] : []) : [d])), 'float32', 'logsumexp');
          const got = y.dataSync();
          const grad = t.grad?.dataSync();
          groups(x.shape, red).forEach((g, j) => {
            const vals = g.map((k) => x.data[k]);
            const m = vals.length === 0 ? -Infinity : vals.some(Number.isNaN) ? NaN : Math.max(...vals);
            const want = Number.isFinite(m) ? m + Math.log(vals.reduce((s, v) => s + Math.exp(v - m), 0)) : m;
            expectClose([got[j]], [want], `logsumexp[${j}]`, { ulps: 4, abs: 4e-5 + 8 * Math.abs(m) * 2 ** -24 });
            if (grad && Number.isFinite(want)) {
              // Max-shifted: exp(v - want) rounds to 1 even in float64 where want rounds to m (e.g. [1e20, 1e20]).
              const s = vals.reduce((acc, v) => acc + Math.exp(v - m), 0);
              expectClose(g.map((k) => grad[k]), vals.map((v) => Math.exp(v - m) / s), `logsumexp gradient of group ${j}`, { abs: 2e-5 });
            }
          });
        },
      });
      t.grad?.dispose();
      free(t);
      expectNoLeakSince(since, 'logsumexp');
    });
});

describe('softmax / logSoftmax over any axis or axes', () => {
  prop(['sg.softmax', 'sg.logSoftmax', 'sg.Tensor#softmax', 'sg.Tensor#logSoftmax'],
    'softmax family over an axis, a list of axes or { axis } equals the row twin run on each group (its elements in row-major order); [] , repeats and out-of-range axes are clear errors',
    fc.record({
      op: fc.constantFrom('softmax', 'logSoftmax'), x: floatTensor({ maxRank: 4, maxDim: 6, maxSize: 150 }),
      axis: axisArb, form: fc.constantFrom('plain', 'bag'), method: fc.boolean(),
    }), async ({ op, x, axis, form, method }) => {
      const t = make(x);
      const r = x.shape.length;
      const arg = form === 'bag' ? { axis } : axis;
      // A plain object in the axis position is an options bag: without an axis in it, the last axis.
      const proto = typeof axis === 'object' && axis !== null && !Array.isArray(axis) ? Object.getPrototypeOf(axis) : undefined;
      const plainBag = form === 'plain' && (proto === Object.prototype || proto === null);
      const ax = plainBag ? -1 : axis ?? -1;
      const axes = Array.isArray(ax) && ax.length === 0 ? null : axesOf(ax, r, true);
      const valid = r > 0 && axes !== null;
      await runCase(() => call(method, op, t, arg), {
        fn: op, expect: valid ? 'ok' : 'error', args: r > 0 ? ['axis'] : ['x'], state: [t],
        check: (y: sg.Tensor) => {
          expectShape(y, x.shape, 'float32', op);
          const want = new Float32Array(x.data.length);
          for (const g of groups(x.shape, axes!)) {
            const row = Float32Array.from(g.map((k) => x.data[k]));
            const out = new Float32Array(row.length);
            if (row.length > 0) f32SoftmaxRowsRef(row, out, 1, row.length, op === 'logSoftmax');
            g.forEach((k, i) => { want[k] = out[i]; });
          }
          expectClose(y.dataSync(), want, op, { ulps: 8, abs: 1e-6 });
        },
      });
      free(t);
    });
});

describe('crossEntropy on [..., C]', () => {
  prop(['sg.crossEntropy'],
    'crossEntropy of logits [..., C] and labels [...] (int32/uint8/int8) equals the float64 mean NLL and the 2-D call on the flattened rows bit for bit; mismatched label shapes, out-of-range labels and empty batches are clear errors',
    fc.record({
      lead: shape({ maxRank: 3, maxDim: 4, maxSize: 30 }), C: fc.integer({ min: 1, max: 6 }), dtype: fc.constantFrom('int32', 'uint8', 'int8'),
      shapeMode: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'drop', 'extra'), salt: fc.integer({ min: 0, max: 1000 }),
    }).chain((c) => fc.record({
      c: fc.constant(c),
      xs: valuesFor('float32', size(c.lead) * c.C, finiteF32),
      labels: fc.array(fc.integer({ min: c.dtype === 'uint8' ? 0 : -1, max: c.C }), { minLength: size(c.lead), maxLength: size(c.lead) }),
    })), async ({ c, xs, labels }) => {
      const since = stats();
      const { lead, C, dtype, shapeMode } = c;
      const x = sg.tensor(xs, [...lead, C]);
      // Labels are mostly in range: an out-of-range one only now and then.
      const labs = labels.map((v, i) => (i % 7 === c.salt % 7 ? v : Math.max(0, Math.min(C - 1, v))));
      const lshape = shapeMode === 'drop' && lead.length > 0 ? lead.slice(1) : shapeMode === 'extra' ? [...lead, 1] : lead;
      const l = size(lshape) === labs.length ? sg.tensor(labs, lshape, { dtype: dtype as any }) : sg.tensor(labs, [labs.length], { dtype: dtype as any });
      const B = size(lead);
      const shapeOk = l.shape.length === lead.length && l.shape.every((d, i) => d === lead[i]);
      const ok = shapeOk && B > 0 && labs.every((v) => v >= 0 && v < C);
      await runCase(() => sg.crossEntropy(x, l), {
        fn: 'crossEntropy', expect: ok ? 'ok' : 'error', state: [x, l],
        check: (y: sg.Tensor) => {
          expectShape(y, [], 'float32', 'crossEntropy');
          let total = 0;
          let scale = 0;
          for (let b = 0; b < B; b++) {
            const row = xs.slice(b * C, (b + 1) * C);
            const m = Math.max(...row);
            scale = Math.max(scale, ...row.map(Math.abs));
            total += m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[labs[b]];
          }
          expectClose([y.item()], [total / B], 'crossEntropy', { abs: 1e-5 * (1 + Math.abs(total / B)) + 4 * scale * 2 ** -24 });
          const flat = sg.tidy(() => sg.crossEntropy(sg.reshape(x, [B, C]), sg.tensor(labs, [B], { dtype: 'int32' })).item());
          if (!Object.is(flat, y.item())) throw new Error(`crossEntropy [${lead}, ${C}] = ${y.item()}, the flattened 2-D call gives ${flat}`);
        },
      });
      free(x, l);
      expectNoLeakSince(since, 'crossEntropy');
    });
});
