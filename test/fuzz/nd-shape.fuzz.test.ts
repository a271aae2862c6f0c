// Issue 11's shape and indexing ops (gather along any axis, broadcastTo, pad,
// expandDims, squeeze, stack, split, oneHot, topk, bincount) against plain
// JavaScript index arithmetic, with hostile arguments.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { anyTensor, floatTensor, hostile, make, shape } from './arbitraries.js';
import { expectClose, expectShape, free, prop, runCase, strides, useRuntime } from './oracle.js';

useRuntime();

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
/** The multi-index of flat position k in shape s. */
const unflat = (k: number, s: readonly number[]) => { const st = strides(s); return s.map((d, i) => Math.floor(k / st[i]) % d); };
const flat = (ix: readonly number[], s: readonly number[]) => { const st = strides(s); return ix.reduce((o, v, i) => o + v * st[i], 0); };
const axisOf = (a: unknown, rank: number): number | null => (isInt(a) && a >= -rank && a < rank ? (a + rank) % rank : null);

function call(method: boolean, op: string, x: unknown, ...rest: unknown[]): any {
  return method && x instanceof sg.Tensor ? (x as any)[op](...rest) : (sg as any)[op](x, ...rest);
}

describe('N-D shape and indexing ops', () => {
  prop(['sg.gather', 'sg.Tensor#gather'], 'gather along any axis (negative too) picks x[..., idx, ...]; bad axes and indices are clear errors', fc.record({
    x: anyTensor({ minRank: 1, maxRank: 4, maxDim: 5 }), idx: fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 5 }), axis: fc.oneof(fc.integer({ min: -5, max: 4 }), fc.constant(undefined), hostile), method: fc.boolean(),
  }), async ({ x, idx, axis, method }) => {
    const t = make(x);
    const i = sg.tensor(idx, [idx.length], { dtype: 'int32' });
    const r = x.shape.length;
    const ax = axis == null ? 0 : axisOf(axis, r);
    const ok = ax !== null && idx.every((v) => v >= 0 && v < x.shape[ax]);
    await runCase(() => call(method, 'gather', t, i, { axis }), {
      fn: 'gather', expect: ok ? 'ok' : 'error', args: ['indices', 'axis'], state: [t, i],
      check: (y: sg.Tensor) => {
        const a = ax as number;
        const out = [...x.shape.slice(0, a), idx.length, ...x.shape.slice(a + 1)];
        expectShape(y, out, x.dtype, 'gather');
        const src = Array.from(t.dataSync());
        const want = Array.from({ length: sizeOf(out) }, (_, k) => { const m = unflat(k, out); m[a] = idx[m[a]]; return src[flat(m, x.shape)]; });
        expectClose(Array.from(y.dataSync()), want, 'gather', { signedZero: true });
      },
    });
    free(t, i);
  });

  prop(['sg.broadcastTo', 'sg.Tensor#broadcastTo'], 'broadcastTo repeats x along new and size-1 axes; shapes that do not broadcast are clear errors', fc.record({
    x: anyTensor({ maxRank: 3, maxDim: 3 }), lead: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 2 }), grow: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 3, maxLength: 3 }), bad: fc.oneof(fc.constant(undefined), hostile), method: fc.boolean(),
  }), async ({ x, lead, grow, bad, method }) => {
    const t = make(x);
    const target = bad !== undefined ? bad : [...lead, ...x.shape.map((d, i) => (d === 1 ? grow[i] : d + (grow[i] === 3 ? 1 : 0)))];
    const ok = Array.isArray(target) && target.every((d) => isInt(d) && d >= 0) && target.length <= 8 && target.length >= x.shape.length
      && x.shape.every((d, i) => d === 1 || d === target[target.length - x.shape.length + i]);
    await runCase(() => call(method, 'broadcastTo', t, target), {
      fn: 'broadcastTo', expect: ok ? 'ok' : 'error', state: [t],
      check: (y: sg.Tensor) => {
        const s = target as number[];
        expectShape(y, s, x.dtype, 'broadcastTo');
        const src = Array.from(t.dataSync());
        const off = s.length - x.shape.length;
        const want = Array.from({ length: sizeOf(s) }, (_, k) => { const m = unflat(k, s).slice(off).map((v, i) => (x.shape[i] === 1 ? 0 : v)); return src[flat(m, x.shape)]; });
        expectClose(Array.from(y.dataSync()), want, 'broadcastTo', { signedZero: true });
      },
    });
    free(t);
  });

  prop(['sg.pad', 'sg.Tensor#pad'], 'pad surrounds x with value; bad pairs, values out of the dtype range and hostile options are clear errors', fc.record({
    x: anyTensor({ maxRank: 3, maxDim: 4 }), pads: fc.array(fc.tuple(fc.integer({ min: -1, max: 3 }), fc.integer({ min: 0, max: 3 })), { maxLength: 4 }),
    value: fc.oneof(fc.constant(undefined), fc.constantFrom(0, 1, -1, 255, 256, -129, 2.5, NaN)), badOptions: fc.oneof(fc.constant(false), hostile), method: fc.boolean(),
  }), async ({ x, pads, value, badOptions, method }) => {
    const t = make(x);
    const options = badOptions === false ? { value } : badOptions;
    // {} and Object.create(null) are empty option bags: the defaults.
    const optionsOk = badOptions === false || badOptions == null || (typeof badOptions === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(badOptions)));
    const v = badOptions === false ? value ?? 0 : 0;
    const range: Record<string, [number, number]> = { int32: [-(2 ** 31), 2 ** 31 - 1], uint8: [0, 255], int8: [-128, 127] };
    const rg = range[x.dtype];
    const valueOk = rg === undefined || (isInt(v) && v >= rg[0] && v <= rg[1]);
    const ok = optionsOk && valueOk && pads.length === x.shape.length && pads.every(([a, b]) => a >= 0 && b >= 0);
    await runCase(() => call(method, 'pad', t, pads, options), {
      fn: 'pad', expect: ok ? 'ok' : 'error', state: [t],
      check: (y: sg.Tensor) => {
        const s = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
        expectShape(y, s, x.dtype, 'pad');
        const src = Array.from(t.dataSync());
        const want = Array.from({ length: sizeOf(s) }, (_, k) => {
          const m = unflat(k, s).map((u, i) => u - pads[i][0]);
          return m.every((u, i) => u >= 0 && u < x.shape[i]) ? src[flat(m, x.shape)] : x.dtype === 'float32' ? Math.fround(v) : v;
        });
        expectClose(Array.from(y.dataSync()), want, 'pad', { signedZero: true });
      },
    });
    free(t);
  });

  prop(['sg.expandDims', 'sg.squeeze', 'sg.Tensor#expandDims', 'sg.Tensor#squeeze'], 'expandDims inserts a 1 and squeeze drops 1s (all or the named axes), data unchanged; bad axes are clear errors', fc.record({
    x: anyTensor({ maxRank: 4, maxDim: 3 }), op: fc.constantFrom('expandDims', 'squeeze'), axis: fc.oneof(fc.constant(undefined), fc.integer({ min: -5, max: 5 }), fc.array(fc.integer({ min: -4, max: 4 }), { maxLength: 3 }), hostile), method: fc.boolean(),
  }), async ({ x, op, axis, method }) => {
    const t = make(x);
    const r = x.shape.length;
    let out: number[] | null = null;
    if (op === 'expandDims') {
      const a = axis == null ? 0 : axisOf(axis, r + 1);
      if (a !== null) { out = x.shape.slice(); out.splice(a, 0, 1); }
    } else if (axis == null) {
      out = x.shape.filter((d) => d !== 1);
    } else {
      const list = Array.isArray(axis) ? axis : [axis];
      const axes = list.map((a) => axisOf(a, r));
      if (axes.every((a) => a !== null && x.shape[a] === 1) && new Set(axes).size === axes.length) out = x.shape.filter((_, i) => !axes.includes(i));
    }
    await runCase(() => call(method, op, t, axis), {
      fn: op, expect: out !== null ? 'ok' : 'error', args: ['axis'], state: [t],
      check: (y: sg.Tensor) => {
        expectShape(y, out!, x.dtype, op);
        expectClose(Array.from(y.dataSync()), Array.from(t.dataSync()), op, { signedZero: true });
      },
    });
    free(t);
  });

  prop(['sg.stack', 'sg.split', 'sg.Tensor#split'], 'stack joins equal shapes along a new axis and split (count or sizes) gives back the pieces; mismatches are clear errors', fc.record({
    s: shape({ maxRank: 3, maxDim: 4 }), n: fc.integer({ min: 1, max: 3 }), axis: fc.oneof(fc.integer({ min: -4, max: 3 }), fc.constant(undefined), hostile), sizes: fc.oneof(fc.integer({ min: -1, max: 4 }), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }), hostile), method: fc.boolean(), mismatch: fc.boolean(),
  }), async ({ s, n, axis, sizes, method, mismatch }) => {
    const ts = Array.from({ length: n }, (_, j) => sg.tensor(Array.from({ length: sizeOf(s) }, (_, k) => k * 10 + j), s));
    if (mismatch) ts.push(sg.tensor([1, 2]));
    const r = s.length;
    const a = axis == null ? 0 : axisOf(axis, r + 1);
    const ok = a !== null && (!mismatch || (r === 1 && s[0] === 2));
    const out = a === null ? [] : [...s.slice(0, a), ts.length, ...s.slice(a)];
    await runCase(() => sg.stack(ts, axis as number), {
      fn: 'stack', expect: ok ? 'ok' : 'error', state: ts,
      check: (y: sg.Tensor) => {
        expectShape(y, out, 'float32', 'stack');
        const parts = ts.map((t) => Array.from(t.dataSync()));
        const want = Array.from({ length: sizeOf(out) }, (_, k) => { const m = unflat(k, out); const j = m.splice(a as number, 1)[0]; return parts[j][flat(m, s)]; });
        expectClose(Array.from(y.dataSync()), want, 'stack');
      },
    });
    const x = ts[0];
    const sa = axis == null ? 0 : axisOf(axis, r);
    const len = sa === null ? 0 : s[sa];
    const parts = isInt(sizes) ? (sizes >= 1 && sizes <= Math.max(len, 1) && len % sizes === 0 ? new Array(sizes).fill(len / sizes) : null)
      : Array.isArray(sizes) && sizes.length > 0 && sizes.every((v) => isInt(v) && v >= 0) && sizes.reduce((p: number, q: number) => p + q, 0) === len ? sizes as number[] : null;
    await runCase(() => call(method, 'split', x, sizes, axis), {
      fn: 'split', expect: sa !== null && parts !== null ? 'ok' : 'error', args: ['sizes', 'count', 'axis'], state: [x],
      check: (ys: sg.Tensor[]) => {
        const src = Array.from(x.dataSync());
        let at = 0;
        ys.forEach((y, j) => {
          const ps = s.map((d, i) => (i === sa ? parts![j] : d));
          expectShape(y, ps, 'float32', 'split');
          const want = Array.from({ length: sizeOf(ps) }, (_, k) => { const m = unflat(k, ps); m[sa as number] += at; return src[flat(m, s)]; });
          expectClose(Array.from(y.dataSync()), want, 'split');
          at += parts![j];
        });
        if (ys.length !== parts!.length) throw new Error(`split gave ${ys.length} parts, want ${parts!.length}`);
      },
    });
    free(ts);
  });

  prop(['sg.oneHot', 'sg.Tensor#oneHot', 'sg.bincount', 'sg.Tensor#bincount'], 'oneHot and bincount (counts, weights, length) against plain loops; out-of-range indices and bad depth/length/weights are clear errors', fc.record({
    idx: fc.array(fc.integer({ min: -1, max: 6 }), { maxLength: 9 }), dtype: fc.constantFrom('int32', 'int32', 'uint8', 'float32'), depth: fc.oneof(fc.integer({ min: 0, max: 7 }), hostile),
    length: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 8 }), hostile), weighted: fc.constantFrom('none', 'ok', 'bad'), method: fc.boolean(),
  }), async ({ idx, dtype, depth, length, weighted, method }) => {
    const vals = dtype === 'uint8' ? idx.map((v) => Math.abs(v)) : idx;
    const i = sg.tensor(vals, [vals.length], { dtype: dtype as any });
    const dtOk = dtype !== 'float32';
    const wn = weighted === 'ok' ? vals.length : vals.length + 1;
    const w = weighted === 'none' ? undefined : sg.tensor(Array.from({ length: wn }, (_, k) => (vals[k] ?? 0) * 0.5 + k), [wn]);
    const depthOk = isInt(depth) && depth >= 0 && depth < 2 ** 31 && vals.every((v) => v >= 0 && v < depth);
    await runCase(() => call(method, 'oneHot', i, depth), {
      fn: 'oneHot', expect: dtOk && depthOk ? 'ok' : 'error', args: ['indices', 'depth'], state: [i],
      check: (y: sg.Tensor) => {
        expectShape(y, [vals.length, depth as number], 'float32', 'oneHot');
        expectClose(Array.from(y.dataSync()), vals.flatMap((v) => Array.from({ length: depth as number }, (_, j) => (j === v ? 1 : 0))), 'oneHot');
      },
    });
    const need = vals.length === 0 ? 0 : Math.max(...vals) + 1;
    const lenOk = length === undefined || length === null || (isInt(length) && length >= need && length < 2 ** 31);
    const L = isInt(length) ? length : need;
    const ok = dtOk && vals.every((v) => v >= 0) && lenOk && weighted !== 'bad' && (length === undefined || length === null || isInt(length));
    await runCase(() => call(method, 'bincount', i, { length, weights: w }), {
      fn: 'bincount', expect: ok ? 'ok' : 'error', args: ['indices', 'length', 'weights'], state: [i, w],
      check: (y: sg.Tensor) => {
        expectShape(y, [L], w === undefined ? 'int32' : 'float32', 'bincount');
        const want = new Array(L).fill(0);
        vals.forEach((v, k) => { want[v] = w === undefined ? want[v] + 1 : Math.fround(want[v] + Math.fround(v * 0.5 + k)); });
        expectClose(Array.from(y.dataSync()), want, 'bincount');
      },
    });
    free(i, w);
  });

  prop(['sg.topk', 'sg.Tensor#topk'], 'topk returns the k largest along the axis, largest first, ties by lowest index, NaN on top; bad k/axis are clear errors', fc.record({
    x: floatTensor({ minRank: 1, maxRank: 3, maxDim: 6 }, fc.constantFrom(0, 1, -1, 2, 2.5, NaN, Infinity, -Infinity, -0)), k: fc.oneof(fc.integer({ min: -1, max: 7 }), hostile), axis: fc.oneof(fc.constant(undefined), fc.integer({ min: -4, max: 3 }), hostile), method: fc.boolean(),
  }), async ({ x, k, axis, method }) => {
    const t = make(x);
    const r = x.shape.length;
    const a = axis == null ? r - 1 : axisOf(axis, r);
    const ok = a !== null && isInt(k) && k >= 0 && k <= x.shape[a];
    await runCase(() => call(method, 'topk', t, k, { axis }), {
      fn: 'topk', expect: ok ? 'ok' : 'error', args: ['k', 'axis'], state: [t],
      check: ({ values, indices }: { values: sg.Tensor; indices: sg.Tensor }) => {
        const out = x.shape.map((d, i) => (i === a ? (k as number) : d));
        expectShape(values, out, 'float32', 'topk');
        expectShape(indices, out, 'int32', 'topk');
        const src = Array.from(t.dataSync());
        const rank = (v: number) => (Number.isNaN(v) ? Infinity : v);
        const gotI = Array.from(indices.dataSync());
        const wantV: number[] = [];
        const wantI: number[] = [];
        for (let q = 0; q < sizeOf(out); q++) {
          const m = unflat(q, out);
          const line = Array.from({ length: x.shape[a as number] }, (_, j) => { const mm = m.slice(); mm[a as number] = j; return src[flat(mm, x.shape)]; });
          const order = line.map((_, j) => j).sort((p, s2) => {
            const np = Number.isNaN(line[p]); const ns = Number.isNaN(line[s2]);
            if (np !== ns) return np ? -1 : 1;
            return rank(line[s2]) > rank(line[p]) ? 1 : rank(line[s2]) < rank(line[p]) ? -1 : p - s2;
          });
          wantI.push(order[m[a as number]]);
          wantV.push(line[order[m[a as number]]]);
        }
        if (gotI.join() !== wantI.join()) throw new Error(`topk indices [${gotI}], want [${wantI}]`);
        expectClose(Array.from(values.dataSync()), wantV, 'topk', { signedZero: true });
      },
    });
    free(t);
  });
});
