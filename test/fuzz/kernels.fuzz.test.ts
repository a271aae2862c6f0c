// The low-level kernel entry points (bit packing, binary/int8 GEMMs,
// int8 quantization, vector quantization) against their scalar twins.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { packBitsRef } from '../../src/reference/bitpack.js';
import { binaryMatmulRef, binaryMatmulScaledRef, binaryWeightsMatmulRef } from '../../src/reference/gemm_b1.js';
import { affineRef, int8MatmulRef, requantizeRef } from '../../src/reference/gemm_s8.js';
import { uint8BinaryMatmulRef } from '../../src/reference/gemm_u8b1.js';
import { dequantizeRef, quantizeRef } from '../../src/reference/quant_s8.js';
import { vqEmaUpdateRef } from '../../src/reference/vq.js';
import { anyF32, dim, finiteF32, hostile, make, matrix, valuesFor } from './arbitraries.js';
import { expectClose, expectNoLeakSince, expectShape, f32, free, prop, runCase, stats, useRuntime } from './oracle.js';

useRuntime();

const isObj = (o: unknown): o is Record<string, any> => o !== null && typeof o === 'object' && !Array.isArray(o);
const kDim = fc.oneof(dim(9), fc.constantFrom(31, 32, 33, 127, 128, 129, 200));
const words = (k: number) => Math.ceil(k / 128) * 4;
const f32ok = (v: unknown, positive: boolean) => typeof v === 'number' && Number.isFinite(v) && Number.isFinite(f32(v)) && (!positive || f32(v) > 0);

/** Per-channel parameter: a number, an array, a Float32Array or a tensor, sometimes hostile or of the wrong length. */
const channelArg = (n: number, valid: fc.Arbitrary<number>) => fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: valid },
  { weight: 2, arbitrary: fc.array(valid, { minLength: n, maxLength: n }) },
  { weight: 1, arbitrary: fc.array(valid, { minLength: n, maxLength: n }).map((a) => Float32Array.from(a)) },
  { weight: 1, arbitrary: fc.array(valid, { minLength: n + 1, maxLength: n + 2 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(1e39, 1e-46, NaN, Infinity, 0, -1) },
  { weight: 1, arbitrary: hostile },
);

/** Expands a channel argument as the contract says, or null when it must be rejected. */
function channels(v: unknown, n: number, fallback: number | null, positive: boolean): number[] | null {
  // null is an omitted option field (the default; none for a required scale).
  if (v == null) return fallback === null ? null : new Array(n).fill(fallback);
  const list = typeof v === 'number' ? [v] : Array.isArray(v) || v instanceof Float32Array ? Array.from(v as ArrayLike<number>) : null;
  if (!list || (list.length !== 1 && list.length !== n)) return null;
  // Every given value is checked, even when there are no channels to apply it to.
  if (!list.every((x) => f32ok(x, positive))) return null;
  return list.length === 1 ? new Array(n).fill(f32(list[0])) : list.map(f32);
}

describe('bit packing and binary GEMMs', () => {
  prop(['sg.packBits', 'sg.packedWords'], 'packBits matches the twin (sign bits, zero padding), NaN and non-matrices are clear errors; packedWords of hostile k', fc.record({
    x: matrix(dim(5), kDim, anyF32), rank: fc.constantFrom(2, 2, 2, 1, 3), k: fc.oneof(fc.integer({ min: 0, max: 300 }), hostile),
  }), async ({ x, rank, k }) => {
    const [M, K] = x.shape;
    const t = rank === 2 ? make(x) : sg.tensor(x.data, rank === 1 ? [M * K] : [M, K, 1]);
    const nan = x.data.some(Number.isNaN);
    await runCase(() => sg.packBits(t), {
      fn: 'packBits', expect: rank === 2 && !nan ? 'ok' : 'error', state: [t],
      check: (b) => {
        expectShape(b, [M, words(K)], 'int32', 'packBits');
        expectClose(Array.from(b.dataSync(), (v) => v >>> 0), Array.from(packBitsRef(Float32Array.from(x.data), M, K)), 'packBits');
      },
    });
    await runCase(() => sg.packedWords(k as number), {
      // k is a GEMM dimension, an i32 in every kernel: past 2^31 - 1 it is rejected naming k.
      fn: 'packedWords', expect: typeof k === 'number' && Number.isInteger(k) && k >= 0 && k <= 2 ** 31 - 1 ? 'ok' : 'error', args: ['k'],
      check: (w) => { if (w !== words(k as number)) throw new Error(`packedWords(${k}) = ${w}`); },
    });
    free(t);
  });

  prop(['sg.binaryMatmul', 'sg.binaryMatmulScaled'], 'XNOR-popcount products match the twin; wrong k, dirty padding bits, bad scale/bias are clear errors', fc.record({
    m: dim(5), n: dim(5), k: kDim, kArg: fc.constantFrom('right', 'right', 'right', 'off', 'hostile'), bad: hostile, dirty: fc.boolean(), scaled: fc.boolean(), seed: fc.integer(),
  }).chain((r) => fc.record({ scale: channelArg(r.n, fc.double({ min: -3, max: 3, noNaN: true })), bias: channelArg(r.n, fc.double({ min: -3, max: 3, noNaN: true })), opts: fc.constantFrom('bag', 'bag', 'bag', 'null', 'none') }).map((s) => ({ ...r, ...s }))),
  async ({ m, n, k, kArg, bad, dirty, scaled, seed, scale, bias, opts }) => {
    const vals = (count: number, salt: number) => Array.from({ length: count }, (_, i) => ((i * 2654435761 + seed * 97 + salt) >>> 0) % 3 - 1);
    const af = sg.tensor(vals(m * k, 1), [m, k]);
    const a = sg.packBits(af);
    af.dispose();
    const bf = sg.tensor(vals(n * k, 2), [n, k]);
    const b = sg.packBits(bf);
    bf.dispose();
    // Padding bits past k set to 1: what a hand-made or corrupted weight file holds.
    const canDirty = dirty && k % 128 !== 0 && n > 0;
    let bb = b;
    if (canDirty) {
      const w = Array.from(b.dataSync());
      w[w.length - 1] |= 1 << 31;
      bb = sg.tensor(w, [n, words(k)], { dtype: 'int32' });
    }
    const kk = kArg === 'right' ? k : kArg === 'off' ? k + 130 : bad;
    const options = opts === 'bag' ? { scale, bias } : opts === 'null' ? null : undefined;
    const s = opts === 'bag' ? channels(scale, n, 1, false) : new Array(n).fill(1);
    const bi = opts === 'bag' ? channels(bias, n, 0, false) : new Array(n).fill(0);
    const kOk = kArg === 'right' || (kArg === 'hostile' && bad === k);
    const ok = kOk && !canDirty && (!scaled || (s !== null && bi !== null && opts !== 'null'));
    const either = scaled && opts === 'null' && kOk && !canDirty;
    await runCase(() => (scaled ? sg.binaryMatmulScaled(a, bb, kk as number, options as any) : sg.binaryMatmul(a, bb, kk as number)), {
      fn: scaled ? 'binaryMatmulScaled' : 'binaryMatmul', expect: ok ? 'ok' : either ? 'either' : 'error', state: [a, bb],
      check: (c) => {
        const A = a.dataSync(); const B = bb.dataSync();
        const want = scaled ? binaryMatmulScaledRef(A, B, m, n, k, words(k), s!, bi!) : binaryMatmulRef(A, B, m, n, k, words(k));
        expectShape(c, [m, n], scaled ? 'float32' : 'int32', 'binaryMatmul');
        expectClose(c.dataSync(), want, 'binaryMatmul');
      },
    });
    free(a, b, bb);
  });

  prop(['sg.binaryWeightsMatmul', 'sg.uint8BinaryMatmul'], 'float/uint8 activations times binary weights match the twins; non-integer pixels, wrong widths and bad scales are clear errors', fc.record({
    m: dim(5), n: dim(5), k: kDim, which: fc.constantFrom('float', 'uint8', 'uint8AsFloat', 'fractionAsUint8'), kOff: fc.boolean(), seed: fc.integer(),
  }).chain((r) => fc.record({ scale: channelArg(r.n, fc.double({ min: -3, max: 3, noNaN: true })), bias: channelArg(r.n, fc.double({ min: -3, max: 3, noNaN: true })), x: valuesFor('float32', r.m * r.k, finiteF32) }).map((s) => ({ ...r, ...s }))),
  async ({ m, n, k, which, kOff, seed, scale, bias, x }) => {
    const since = stats();
    const wf = sg.tensor(Array.from({ length: n * k }, (_, i) => (((i * 40503 + seed) >>> 0) % 2 ? -1 : 1)), [n, k]);
    const w = sg.packBits(wf);
    wf.dispose();
    const kx = kOff ? k + 129 : k;
    const px = Array.from({ length: m * kx }, (_, i) => (((i * 7 + seed) >>> 0) % 256));
    const xs = which === 'float' ? Array.from({ length: m * kx }, (_, i) => x[i % Math.max(x.length, 1)] ?? 0.5) : which === 'fractionAsUint8' ? px.map((v, i) => (i === 0 ? v + 0.5 : v)) : px;
    const xt = sg.tensor(xs, [m, kx], { dtype: which === 'uint8' ? 'uint8' : 'float32' });
    const s = channels(scale, n, 1, false);
    const bi = channels(bias, n, 0, false);
    const isU8 = which !== 'float';
    const wordsOk = words(kx) === words(k) && (!kOff || k === kx);
    const ok = !kOff && (isU8 ? which !== 'fractionAsUint8' || m * kx === 0 : s !== null && bi !== null);
    await runCase(() => (isU8 ? sg.uint8BinaryMatmul(xt, w) : sg.binaryWeightsMatmul(xt, w, { scale, bias } as any)), {
      fn: isU8 ? 'uint8BinaryMatmul' : 'binaryWeightsMatmul', caches: true, expect: ok ? 'ok' : kOff && !wordsOk ? 'error' : kOff ? 'either' : 'error', state: [xt, w],
      check: (c) => {
        const W = w.dataSync();
        const X = xt.dataSync();
        const want = isU8 ? uint8BinaryMatmulRef(X, m, k, W, n, words(k)) : binaryWeightsMatmulRef(X, m, k, W, n, words(k), s!, bi!);
        expectClose(c.dataSync(), want, isU8 ? 'uint8BinaryMatmul' : 'binaryWeightsMatmul', { ulps: isU8 ? 0 : 0 });
      },
    });
    free(w, xt);
    expectNoLeakSince(since, isU8 ? 'uint8BinaryMatmul' : 'binaryWeightsMatmul');
  });
});

describe('int8 GEMMs and quantization', () => {
  prop(['sg.int8Matmul', 'sg.int8MatmulDequantize', 'sg.int8MatmulRequantize'], 'int8 products (plain, dequantized, requantized) match the twins; scales that overflow float32 are rejected', fc.record({
    m: dim(6), n: dim(6), k: fc.oneof(dim(9), fc.constantFrom(17, 33, 64)), tb: fc.boolean(), which: fc.constantFrom('plain', 'deq', 'req'), mismatch: fc.boolean(), opts: fc.constantFrom('bag', 'bag', 'bag', 'null', 'hostile'), bad: hostile, seed: fc.integer(),
    sa: fc.oneof(fc.double({ min: 1e-4, max: 1, noNaN: true }), fc.constantFrom<unknown>(1e39, 1e-46, 0, -1, NaN, 'x')), so: fc.oneof(fc.double({ min: 1e-3, max: 2, noNaN: true }), fc.constantFrom<unknown>(1e39, 1e-46, 0)),
  }).chain((r) => fc.record({ sb: channelArg(r.n, fc.double({ min: 1e-4, max: 1, noNaN: true })), bias: channelArg(r.n, fc.double({ min: -5, max: 5, noNaN: true })) }).map((s) => ({ ...r, ...s }))),
  async ({ m, n, k, tb, which, mismatch, opts, bad, seed, sa, so, sb, bias }) => {
    const since = stats();
    const ints = (count: number, salt: number) => Array.from({ length: count }, (_, i) => (((i * 2246822519 + seed * 31 + salt) >>> 0) % 256) - 128);
    const kb = mismatch ? k + 1 : k;
    const a = sg.tensor(ints(m * k, 1), [m, k], { dtype: 'int8' });
    const b = sg.tensor(ints(kb * n, 2), tb ? [n, kb] : [kb, n], { dtype: 'int8' });
    const o: unknown = opts === 'bag' ? { transposeB: tb, scaleA: sa, scaleB: sb, bias, scaleOut: so } : opts === 'null' ? null : bad;
    const effTb = opts === 'bag' ? tb : false;
    const Kb = effTb ? b.shape[1] : b.shape[0];
    const N = effTb ? b.shape[0] : b.shape[1];
    const mult = channels(sb, N, null, true);
    const add = channels(bias, N, 0, false);
    const saOk = f32ok(sa, true);
    const soOk = f32ok(so, true);
    const shapesOk = Kb === k;
    let ok = shapesOk && (which === 'plain' ? opts === 'bag' || (opts === 'hostile' && bad === undefined) : opts === 'bag' && saOk && mult !== null && add !== null && (which === 'deq' || soOk));
    if (ok && which !== 'plain') {
      const mm = mult!.map((v) => f32(f32(f32(sa as number) * v) / (which === 'req' ? f32(so as number) : 1)));
      if (mm.some((v) => !Number.isFinite(v) || v === 0)) ok = false;
    }
    const certain = !shapesOk || (opts === 'bag' && (which === 'plain' || !saOk || mult === null || add === null || (which === 'req' && !soOk)));
    const fn = which === 'plain' ? 'int8Matmul' : which === 'deq' ? 'int8MatmulDequantize' : 'int8MatmulRequantize';
    await runCase(() => (sg as any)[fn](a, b, o), {
      fn, caches: true, expect: ok ? 'ok' : certain ? 'error' : 'either', state: [a, b],
      check: (c: sg.Tensor) => {
        const acc = int8MatmulRef(a.dataSync(), b.dataSync(), m, N, k, effTb);
        if (which === 'plain') return expectClose(c.dataSync(), acc, 'int8Matmul');
        const s0 = f32(sa as number);
        const mm = mult!.map((v) => (which === 'deq' ? f32(s0 * v) : f32(f32(s0 * v) / f32(so as number))));
        const dd = add!.map((v) => (which === 'deq' ? v : f32(v / f32(so as number))));
        const want = which === 'deq' ? affineRef(acc, m, N, mm, dd) : requantizeRef(acc, m, N, mm, dd);
        expectClose(c.dataSync(), want, fn);
        if (which === 'deq' && Array.from(c.dataSync()).some((v) => !Number.isFinite(v))) throw new Error(`${fn} returned non-finite values for finite scales`);
      },
    });
    free(a, b);
    expectNoLeakSince(since, fn);
  }, 2);

  prop(['sg.quantizeInt8', 'sg.dequantizeInt8', 'sg.int8Scales'], 'int8/uint8 quantize, dequantize and scales match the twins per tensor and per channel; scales are checked as float32', fc.record({
    x: matrix(dim(5), dim(6), fc.oneof(finiteF32, fc.constantFrom(1e30, -1e30, NaN))), which: fc.constantFrom('q', 'dq', 'scales'), dtype: fc.constantFrom<unknown>('int8', 'uint8', undefined, 'int4'), perChannel: fc.oneof(fc.boolean(), hostile), optsForm: fc.constantFrom('bag', 'bag', 'bag', 'null', 'none'),
  }).chain((r) => fc.record({ scale: channelArg(r.x.shape[0], fc.double({ min: 1e-3, max: 2, noNaN: true })), zp: channelArg(r.x.shape[0], fc.integer({ min: -130, max: 260 })) }).map((s) => ({ ...r, ...s }))),
  async ({ x, which, dtype, perChannel, optsForm, scale, zp }) => {
    const [R, C] = x.shape;
    const nan = x.data.some(Number.isNaN);
    if (which === 'scales') {
      const t = make(x);
      const o = optsForm === 'bag' ? { perChannel } : optsForm === 'null' ? null : undefined;
      await runCase(() => sg.int8Scales(t, o as any), {
        // Null options / a null flag mean the default; any other non-boolean flag is a wrong type, rejected naming perChannel.
        fn: 'int8Scales', expect: (optsForm === 'bag' && perChannel != null && typeof perChannel !== 'boolean') || nan ? 'error' : 'ok', state: [t],
        args: optsForm === 'bag' && perChannel != null && typeof perChannel !== 'boolean' ? ['perChannel'] : undefined,
        check: (s) => {
          const pc = optsForm === 'bag' && !!perChannel;
          const groups = pc ? Array.from({ length: R }, (_, r) => x.data.slice(r * C, (r + 1) * C)) : [x.data];
          expectClose(s.dataSync(), groups.map((g) => { const m = Math.max(0, ...g.map((v) => Math.abs(f32(v)))); return m > 0 ? f32(f32(m) / 127) : 1; }), 'int8Scales');
        },
      });
      free(t);
      return;
    }
    const qd = which === 'q' ? (dtype ?? 'int8') : dtype === 'uint8' ? 'uint8' : 'int8';
    const t = which === 'q' ? make(x) : sg.tensor(x.data.map((v, i) => (qd === 'uint8' ? i % 256 : (i % 256) - 128)), x.shape, { dtype: qd as any });
    const list = (v: unknown) => (v == null || typeof v === 'number' ? 1 : Array.isArray(v) || v instanceof Float32Array ? (v as ArrayLike<number>).length : 1);
    const pc = list(scale) !== 1 || list(zp) !== 1;
    const ch = pc ? R : 1;
    const symmetric = which === 'q' && qd === 'int8' && zp == null;
    const [qmin, qmax] = qd === 'uint8' ? [0, 255] : symmetric ? [-127, 127] : [-128, 127];
    const sc = channels(scale, ch, null, true);
    const zz = channels(zp, ch, 0, false);
    const zpGiven = zp == null ? [] : typeof zp === 'number' ? [zp] : Array.isArray(zp) || zp instanceof Float32Array ? Array.from(zp as ArrayLike<number>) : [NaN];
    const zpOk = zz !== null && zpGiven.every((v) => Number.isInteger(v) && v >= qmin && v <= qmax);
    const dtOk = which === 'dq' || qd === 'int8' || qd === 'uint8';
    const ok = optsForm === 'bag' && dtOk && sc !== null && zpOk && !(which === 'q' && nan);
    const o = optsForm === 'bag' ? (which === 'q' ? { scale, zeroPoint: zp, dtype } : { scale, zeroPoint: zp }) : optsForm === 'null' ? null : undefined;
    const fn = which === 'q' ? 'quantizeInt8' : 'dequantizeInt8';
    await runCase(() => (which === 'q' ? sg.quantizeInt8(t, o as any) : sg.dequantizeInt8(t, o as any)), {
      fn, expect: ok ? 'ok' : 'error', state: [t],
      check: (y) => {
        const X = t.dataSync();
        const want = which === 'q' ? quantizeRef(X, pc ? R : 1, pc ? C : R * C, sc!, zz!, pc, qmin, qmax) : dequantizeRef(X, pc ? R : 1, pc ? C : R * C, sc!, zz!, pc);
        expectShape(y, x.shape, which === 'q' ? (qd as string) : 'float32', fn);
        expectClose(y.dataSync(), want, fn);
        if (which === 'dq' && Array.from(y.dataSync()).some((v) => !Number.isFinite(v))) throw new Error('dequantizeInt8 returned non-finite values');
      },
    });
    free(t);
  }, 2);
});

describe('vector quantization kernels', () => {
  prop(['sg.vqNearest'], 'vqNearest attains the float64 minimum distance (huge and tiny codes too); NaN and shape errors are clear', fc.record({
    n: dim(6), k: dim(6), d: fc.integer({ min: 1, max: 6 }), scale: fc.constantFrom(1, 1, 2e19, 1e-20, 1e18), nanIn: fc.constantFrom('none', 'none', 'z', 'codebook'), dOff: fc.boolean(),
  }).chain((r) => fc.tuple(matrix(fc.constant(r.n), fc.constant(r.d), finiteF32.map((v) => f32(v * r.scale))), matrix(fc.constant(r.k), fc.constant(r.dOff ? r.d + 1 : r.d), finiteF32.map((v) => f32(v * r.scale)))).map(([z, c]) => ({ ...r, z, c }))),
  async ({ n, k, d, nanIn, dOff, z, c }) => {
    const since = stats();
    if (nanIn === 'z' && z.data.length) z.data[0] = NaN;
    if (nanIn === 'codebook' && c.data.length) c.data[c.data.length - 1] = NaN;
    const tz = make(z);
    const tc = make(c);
    const ok = !dOff && !(nanIn === 'z' && n > 0) && !(nanIn === 'codebook' && k > 0) && (k > 0 || n === 0);
    await runCase(() => sg.vqNearest(tz, tc), {
      fn: 'vqNearest', caches: true, expect: ok ? 'ok' : nanIn === 'codebook' && n === 0 && !dOff ? 'either' : 'error', state: [tz, tc],
      check: (idx) => {
        expectShape(idx, [n], 'int32', 'vqNearest');
        const Z = tz.dataSync(); const Cb = tc.dataSync(); const I = idx.dataSync();
        for (let i = 0; i < n; i++) {
          const dist = (kk: number) => { let s = 0; for (let j = 0; j < d; j++) s += (Z[i * d + j] - Cb[kk * d + j]) ** 2; return s; };
          const all = Array.from({ length: k }, (_, kk) => dist(kk));
          const best = Math.min(...all);
          const mag = Math.max(...Array.from({ length: k }, (_, kk) => { let s = 0; for (let j = 0; j < d; j++) s += Cb[kk * d + j] ** 2 + Z[i * d + j] ** 2; return s; }));
          if (!(I[i] >= 0 && I[i] < k) || all[I[i]] > best + 2e-6 * mag + 1e-37) throw new Error(`vqNearest row ${i}: code ${I[i]} at squared distance ${all[I[i]]}, nearest ${best}`);
        }
      },
    });
    free(tz, tc);
    expectNoLeakSince(since, 'vqNearest');
  });

  prop(['sg.vqEmaUpdate'], 'vqEmaUpdate matches the twin in place; aliasing, eps 0, bad indices/options change nothing and are clear errors; no NaN is ever written', fc.record({
    n: dim(6), k: fc.integer({ min: 1, max: 5 }), d: fc.integer({ min: 1, max: 4 }), alias: fc.constantFrom('none', 'none', 'none', 'codebookAsEmbedSum', 'zAsCodebook'),
    decay: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom<unknown>(1.5, -0.1, NaN, null)), epsilon: fc.oneof(fc.double({ min: 1e-6, max: 0.1, noNaN: true }), fc.constantFrom<unknown>(0, -1, Infinity)),
    badIndex: fc.boolean(), zSpecial: fc.constantFrom('none', 'none', 'inf'), opts: fc.constantFrom('bag', 'bag', 'null'),
  }).chain((r) => matrix(fc.constant(r.n), fc.constant(r.d), finiteF32).map((z) => ({ ...r, z }))),
  async ({ n, k, d, alias, decay, epsilon, badIndex, zSpecial, opts, z }) => {
    if (zSpecial === 'inf' && z.data.length) z.data[0] = Infinity;
    const tz = make(z);
    const idxVals = Array.from({ length: n }, (_, i) => (badIndex && i === 0 ? k : (i * 7) % k));
    const idx = sg.tensor(idxVals, [n], { dtype: 'int32' });
    const size = sg.tensor(Array.from({ length: k }, (_, i) => (i % 2 ? 0 : i + 1)));
    const embed = sg.tensor(Array.from({ length: k * d }, (_, i) => (i % 3) - 1), [k, d]);
    const cb = alias === 'zAsCodebook' && n === k ? tz : sg.tensor(Array.from({ length: k * d }, (_, i) => i / 7), [k, d]);
    const es = alias === 'codebookAsEmbedSum' ? cb : embed;
    const o = opts === 'null' ? null : { decay, epsilon };
    const decOk = typeof decay === 'number' && decay >= 0 && decay <= 1;
    const epsOk = typeof epsilon === 'number' && Number.isFinite(epsilon) && epsilon >= 0;
    const aliased = es === cb || cb === tz;
    const ok = opts === 'bag' && decOk && epsOk && !(badIndex && n > 0) && !aliased && zSpecial === 'none';
    const before = { size: Float32Array.from(size.dataSync() as Float32Array), embed: Float32Array.from(es.dataSync() as Float32Array), cb: Float32Array.from(cb.dataSync() as Float32Array) };
    // An update the float32 twin turns into NaN/Infinity (e.g. a decay that rounds to 0 with an empty batch: every
    // cluster size becomes 0) must be rejected. Near that edge (a smoothed size below the normal float32 range, a total
    // that is not > 0 in float64) the host may reject conservatively.
    let refBad = false;
    let edge = false;
    if (ok) {
      const probe = { size: before.size.slice(), embed: before.embed.slice(), cb: before.cb.slice() };
      vqEmaUpdateRef(Float32Array.from(z.data), Int32Array.from(idxVals), n, k, d, probe.size, probe.embed, probe.cb, decay as number, epsilon as number);
      refBad = [...probe.size, ...probe.embed, ...probe.cb].some((v) => !Number.isFinite(v));
      const total = (decay as number) * before.size.reduce((a, v) => a + v, 0) + (1 - (decay as number)) * n;
      const e = epsilon as number;
      edge = !(total > 0) || e / (total + k * e) < 2 ** -126 || (e / (total + k * e)) * total < 2 ** -126;
    }
    await runCase(() => sg.vqEmaUpdate(tz, idx, size, es, cb, o as any), {
      fn: 'vqEmaUpdate', expect: ok ? (refBad ? 'error' : epsilon === 0 || edge ? 'either' : 'ok') : opts === 'null' || !decOk || !(typeof epsilon === 'number' && epsilon >= 0) || (badIndex && n > 0) || aliased ? 'error' : 'either',
      state: [tz, idx, size, es, cb], mutates: true,
      check: () => {
        const Z = Float32Array.from(tz.dataSync() as Float32Array);
        vqEmaUpdateRef(Z, Int32Array.from(idxVals), n, k, d, before.size, before.embed, before.cb, decay as number, epsilon as number);
        for (const [name, t] of [['clusterSize', size], ['embedSum', es], ['codebook', cb]] as const) if (Array.from(t.dataSync()).some(Number.isNaN)) throw new Error(`vqEmaUpdate wrote NaN into ${name}`);
        if (Array.from(before.cb).every(Number.isFinite)) {
          expectClose(size.dataSync(), before.size, 'clusterSize', { ulps: 2 });
          expectClose(es.dataSync(), before.embed, 'embedSum', { ulps: 2 });
          expectClose(cb.dataSync(), before.cb, 'codebook', { ulps: 4 });
        }
      },
    });
    free(tz, idx, size, embed, cb);
  }, 2);
});

