// The data and training API: DataLoader over random sources (tensors, typed
// arrays, { data, shape }; one, an array or named) against the source rows
// taken in plain JS and the documented shuffle, fit against a hand-written
// training loop, evaluate and predict against float64 recomputations,
// clipGradNorm against a float64 norm, metrics.accuracy against plain argmax
// counting, and hostile arguments to each.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import * as sg from '../../src/index.js';
import { hostile, hostileOption } from './arbitraries.js';
import { bytesOf, expectClearError, expectClose, expectNoLeakSince, expectShape, f32, free, prop, runCase, snapshot, stats, useRuntime } from './oracle.js';

useRuntime();

// ---- DataLoader ------------------------------------------------------------

type Kind = 'f32' | 'f64' | 'i32' | 'i8' | 'u8' | 'u8c';
const KINDS: Kind[] = ['f32', 'f64', 'i32', 'i8', 'u8', 'u8c'];
const NATIVE: Record<Kind, string> = { f32: 'float32', f64: 'float32', i32: 'int32', i8: 'int8', u8: 'uint8', u8c: 'uint8' };
const CTOR = { f32: Float32Array, f64: Float64Array, i32: Int32Array, i8: Int8Array, u8: Uint8Array, u8c: Uint8ClampedArray } as const;

interface SourceSpec {
  form: 'tensor' | 'typed' | 'dataShape';
  kind: Kind;
  rowShape: number[];
  /** Rows beyond (or short of) the loader's sample count: nonzero makes a misaligned source. */
  skew: number;
  target: string | undefined;
  salt: number;
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Deterministic values of a kind (the source's own dtype range; float64 values that round in float32). */
function valuesOf(kind: Kind, n: number, salt: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const r = Math.sin(i * 12.9898 + salt * 78.233) * 43758.5453;
    const u = r - Math.floor(r);
    switch (kind) {
      case 'f32': return f32((u - 0.5) * 20);
      case 'f64': return (u - 0.5) * 20 + 1e-9;
      case 'i32': return Math.floor((u - 0.5) * 2 ** 32);
      case 'i8': return Math.floor(u * 256) - 128;
      default: return Math.floor(u * 256);
    }
  });
}

/** The conversions the loader documents: anything to float32; float32, uint8 and int8 to int32. */
function convertible(native: string, to: string): boolean {
  return native === to || to === 'float32' || (to === 'int32' && native !== 'int32');
}

/** One value as the loader's batch holds it: float32 rounding, or cast's float → int32 (truncation, saturating). */
function convert(v: number, kind: Kind, to: string): number {
  const x = NATIVE[kind] === 'float32' ? f32(v) : v;
  if (to === 'float32') return f32(x);
  if (to === 'int32' && NATIVE[kind] === 'float32') return Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(x)));
  return x;
}

/** The documented shuffle (README, DataLoader.order), in BigInt arithmetic: an independent twin. */
function orderRef(n: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const M = 2n ** 32n;
  const k = BigInt(7919 * seed + epoch + 1) % M;
  let s = (k * 2654435761n) % M;
  if (s === 0n) s = 1n;
  for (let i = n - 1; i > 0; i--) {
    s = (s ^ (s << 13n)) % M;
    s ^= s >> 17n;
    s = (s ^ (s << 5n)) % M;
    const j = Number(s % BigInt(i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

const sourceArb: fc.Arbitrary<SourceSpec> = fc.record({
  form: fc.constantFrom('tensor' as const, 'typed' as const, 'dataShape' as const),
  kind: fc.constantFrom(...KINDS),
  rowShape: fc.oneof(fc.constant([]), fc.tuple(fc.integer({ min: 0, max: 3 })), fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }))),
  skew: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1, 3) }),
  target: fc.option(fc.constantFrom('float32', 'int32', 'int8', 'uint8'), { nil: undefined, freq: 2 }),
  salt: fc.integer({ min: 0, max: 999 }),
});

/** Builds a source and, for checking, its values as plain numbers, row length and sample count. */
function buildSource(spec: SourceSpec, n: number): { source: unknown; values: number[]; rowLen: number; rows: number; tensor: sg.Tensor | null } {
  // A typed array alone is one value per sample; tensors of a non-float kind are made with its native dtype.
  const rowShape = spec.form === 'typed' ? [] : spec.rowShape;
  const rows = Math.max(0, n + spec.skew);
  const rowLen = size(rowShape);
  const values = valuesOf(spec.kind, rows * rowLen, spec.salt);
  const data = CTOR[spec.kind].from(values);
  const stored = Array.from(data as ArrayLike<number>);
  if (spec.form === 'typed') return { source: data, values: stored, rowLen, rows, tensor: null };
  if (spec.form === 'dataShape') return { source: { data, shape: [rows, ...rowShape] }, values: stored, rowLen, rows, tensor: null };
  const t = sg.tensor(data as Float32Array, [rows, ...rowShape], { dtype: NATIVE[spec.kind] as sg.DType });
  return { source: t, values: Array.from(t.dataSync()), rowLen, rows, tensor: t };
}

describe('DataLoader', () => {
  prop(['sg.data.DataLoader', 'sg.data.DataLoader#length', 'sg.data.DataLoader#epoch', 'sg.data.DataLoader#order', 'sg.data.DataLoader#makeBatch', 'sg.data.DataLoader#dtypeList'],
    'every batch is the source rows (plain JS) in the documented order, converted; shuffle is a reproducible permutation that changes per epoch; dropLast; misaligned or unconvertible sources are clear errors; nothing leaks over full and broken iterations',
    fc.record({
      n: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 4, max: 23 })),
      structure: fc.constantFrom('single', 'array', 'record'),
      sources: fc.array(sourceArb, { minLength: 1, maxLength: 3 }),
      batchSize: fc.oneof(fc.constantFrom(1, 2, 3, 7), fc.integer({ min: 1, max: 40 })),
      shuffle: fc.boolean(), seeded: fc.boolean(), seed: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(0, 2 ** 32 - 1, 554189)),
      dropLast: fc.boolean(), breakAt: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }), epochs: fc.integer({ min: 1, max: 3 }),
    }), async ({ n, structure, sources, batchSize, shuffle, seeded, seed, dropLast, breakAt, epochs }) => {
      const since = stats();
      const specs = structure === 'single' ? sources.slice(0, 1) : sources;
      const built = specs.map((s) => buildSource(s, n));
      const names = specs.map((_, i) => `s${i}`);
      const src = structure === 'single' ? built[0].source : structure === 'array' ? built.map((b) => b.source) : Object.fromEntries(built.map((b, i) => [names[i], b.source]));
      const targets = specs.map((s) => s.target);
      const dtypes = targets.every((t) => t === undefined) ? undefined : structure === 'single' ? targets[0] : structure === 'array' ? targets : Object.fromEntries(targets.map((t, i) => [names[i], t]).filter(([, t]) => t !== undefined));
      const opts = { batchSize, shuffle, seed: shuffle && seeded ? seed : undefined, dropLast, dtypes };
      const aligned = built.every((b) => b.rows === built[0].rows);
      const convertOk = specs.every((s) => s.target === undefined || convertible(NATIVE[s.kind], s.target));
      const ok = aligned && convertOk;
      const tensors = built.map((b) => b.tensor);
      let loader: sg.data.DataLoader<any, any> | null = null;
      await runCase(() => { loader = new sg.data.DataLoader(src as any, opts as any); return null; }, {
        fn: 'DataLoader', expect: ok ? 'ok' : 'error', state: tensors, args: [...(aligned ? [] : ['samples']), ...(convertOk ? [] : ['convert'])],
      });
      if (loader === null) { free(tensors); expectNoLeakSince(since, 'DataLoader (rejected)'); return; }
      const L = loader as sg.data.DataLoader<any, any>;
      const N = built[0].rows;
      const want = dropLast ? Math.floor(N / batchSize) : Math.ceil(N / batchSize);
      if (L.samples !== N || L.length !== want) throw new Error(`DataLoader: samples ${L.samples}, length ${L.length}; want ${N}, ${want}`);
      const targetOf = (i: number) => specs[i].target ?? NATIVE[specs[i].kind];
      for (let e = 0; e < epochs; e++) {
        if (L.epoch !== e) throw new Error(`DataLoader.epoch is ${L.epoch} before iteration ${e}`);
        const order = Array.from(L.order(e));
        const sorted = [...order].sort((a, b) => a - b);
        if (sorted.some((v, i) => v !== i)) throw new Error(`DataLoader.order(${e}) is not a permutation of 0..${N - 1}: [${order}]`);
        if (!shuffle && order.some((v, i) => v !== i)) throw new Error(`DataLoader.order without shuffle: [${order}]`);
        if (shuffle && seeded) {
          const ref = orderRef(N, seed, e);
          if (order.join() !== ref.join()) throw new Error(`DataLoader.order(${e}) with seed ${seed}: [${order}], documented shuffle gives [${ref}]`);
          if (Array.from(L.order(e)).join() !== order.join()) throw new Error('DataLoader.order is not reproducible');
          if (N >= 8 && Array.from(L.order(e + 1)).join() === order.join()) throw new Error(`DataLoader: epochs ${e} and ${e + 1} have the same order with seed ${seed}`);
        }
        const before = stats();
        let b = 0;
        for (const batch of L) {
          // Unseeded shuffles draw their order when iteration starts: check against the batch's own rows only for seeded/in-order loaders.
          const rows = shuffle && !seeded ? null : order.slice(b * batchSize, (b + 1) * batchSize);
          const cols: sg.Tensor[] = structure === 'single' ? [batch] : structure === 'array' ? batch : names.map((k) => batch[k]);
          if (cols.length !== built.length) throw new Error(`DataLoader batch has ${cols.length} tensors, want ${built.length}`);
          const count = Math.min(batchSize, N - b * batchSize);
          cols.forEach((t, i) => {
            const rowShape = specs[i].form === 'typed' ? [] : specs[i].rowShape;
            expectShape(t, [count, ...rowShape], targetOf(i), `DataLoader batch ${b} column ${i}`);
            if (rows) {
              const wantVals = rows.flatMap((r) => built[i].values.slice(r * built[i].rowLen, (r + 1) * built[i].rowLen).map((v) => convert(v, specs[i].kind, targetOf(i))));
              const got = Array.from(t.dataSync());
              if (got.some((v, j) => v !== wantVals[j] && !(Number.isNaN(v) && Number.isNaN(wantVals[j])))) throw new Error(`DataLoader batch ${b} column ${i} (${specs[i].form} ${specs[i].kind} → ${targetOf(i)}): [${got}], want rows [${rows}] = [${wantVals}]`);
            }
          });
          b++;
          if (breakAt !== undefined && b > breakAt) break;
        }
        const full = breakAt === undefined || want <= breakAt;
        if (full && b !== want) throw new Error(`DataLoader gave ${b} batches, length says ${want}`);
        const after = stats();
        if (after.tensors !== before.tensors || after.bytes !== before.bytes) throw new Error(`DataLoader iteration ${e} leaked ${after.tensors - before.tensors} tensors${full ? '' : ` (break after ${b} batches)`}`);
      }
      if (L.epoch !== epochs) throw new Error(`DataLoader.epoch is ${L.epoch} after ${epochs} iterations`);
      free(tensors);
      expectNoLeakSince(since, 'DataLoader');
    }, 2);

  prop(['sg.data.DataLoader', 'sg.data.DataLoader#epoch', 'sg.data.DataLoader#order'],
    'hostile sources and options (batchSize, shuffle, seed, dropLast, dtypes, transform, unknown keys, epoch) are clear errors naming DataLoader and the option, before anything is allocated',
    fc.record({
      what: fc.constantFrom('sources', 'batchSize', 'shuffle', 'seed', 'dropLast', 'dtypes', 'transform', 'unknown', 'options', 'epoch', 'order', 'disposed', 'scalar', 'shape', 'data', 'empty'),
      bad: hostileOption, badNumber: fc.constantFrom(0, -1, 1.5, NaN, Infinity, 2 ** 53, '4', 2 ** 32, -0.5),
    }), async ({ what, bad, badNumber }) => {
      const x = sg.tensor([1, 2, 3, 4, 5, 6], [3, 2]);
      const y = new Int32Array([0, 1, 2]);
      let src: unknown = { x, y };
      let opts: Record<string, unknown> | unknown = { batchSize: 2 };
      let expectKind: 'error' | 'either' = 'error';
      let args: string[] = [what];
      const v = typeof bad === 'number' ? badNumber : bad;
      switch (what) {
        // A typed array alone is a valid source (one value per sample).
        case 'sources': src = bad; args = ['sources']; expectKind = bad instanceof Uint8Array || bad instanceof Float64Array ? 'either' : 'error'; break;
        case 'batchSize': opts = { batchSize: v }; expectKind = Number.isInteger(v) && (v as number) >= 1 ? 'either' : 'error'; break;
        case 'shuffle': opts = { shuffle: bad }; expectKind = typeof bad === 'boolean' ? 'either' : 'error'; break;
        case 'seed': opts = { shuffle: true, seed: v }; expectKind = Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32 ? 'either' : 'error'; break;
        case 'dropLast': opts = { dropLast: bad }; expectKind = typeof bad === 'boolean' ? 'either' : 'error'; break;
        case 'dtypes': opts = { dtypes: { x: 'float64', y: bad } }; break;
        case 'transform': opts = { transform: bad }; expectKind = typeof bad === 'function' ? 'either' : 'error'; break;
        case 'unknown': opts = { batchsize: 4 }; args = ['batchsize']; break;
        case 'options': opts = bad; args = ['options']; expectKind = bad !== null && typeof bad === 'object' && !Array.isArray(bad) && !ArrayBuffer.isView(bad) ? 'either' : 'error'; break;
        case 'disposed': { const d = sg.tensor([1, 2, 3]); d.dispose(); src = [x, d]; args = ['sources[1]']; break; }
        case 'scalar': { src = sg.tensor(3); args = ['sources']; break; }
        case 'shape': src = { data: new Float32Array(6), shape: [4, 2] }; args = ['shape']; break;
        case 'data': src = { data: [1, 2, 3], shape: [3] }; args = ['data']; break;
        case 'empty': src = []; args = ['sources']; break;
        default: break;
      }
      await runCase(() => {
        const l = new sg.data.DataLoader(src as any, opts as any);
        if (what === 'epoch') l.epoch = v as number;
        if (what === 'order') return l.order(v as number);
        return null;
      }, { fn: 'DataLoader', expect: what === 'epoch' || what === 'order' ? (Number.isInteger(v) && (v as number) >= 0 ? 'either' : 'error') : expectKind, args: what === 'order' ? ['epoch'] : args, state: [x] });
      if (what === 'scalar') free(src);
      free(x);
    });

  prop(['sg.data.DataLoader', 'sg.data.DataLoader#order', 'sg.seed'],
    'without a seed, each epoch is a permutation keyed by the default generator: sg.seed(n) replays it (order() and iteration draw alike); a transform passing a source through never frees the source',
    fc.record({ n: fc.integer({ min: 0, max: 17 }), batchSize: fc.integer({ min: 1, max: 6 }), s: fc.integer({ min: 0, max: 2 ** 32 - 1 }), passThrough: fc.boolean() }),
    async ({ n, batchSize, s, passThrough }) => {
      const since = stats();
      const idx = Int32Array.from({ length: n }, (_, i) => i);
      const xs = valuesOf('f32', n, s % 1000);
      const x = sg.tensor(xs, [n]);
      const extra = sg.tensor([1, 2]);
      const loader = new sg.data.DataLoader({ i: idx, x }, { batchSize, shuffle: true, transform: passThrough ? (b: { i: sg.Tensor; x: sg.Tensor }) => ({ ...b, extra }) : undefined });
      sg.seed(s);
      const drawn = Array.from(loader.order(0));
      sg.seed(s);
      const seen: number[] = [];
      for (const b of loader) {
        const rows = Array.from(b.i.dataSync());
        expectClose(b.x.dataSync(), rows.map((r) => xs[r]), 'DataLoader x rows against its index column', { ulps: 0 });
        if (passThrough && b.extra !== extra) throw new Error('transform result not passed through');
        seen.push(...rows);
      }
      if ([...seen].sort((a, b) => a - b).some((v, i) => v !== i) || seen.length !== n) throw new Error(`unseeded shuffle gave [${seen}], not a permutation of 0..${n - 1}`);
      if (seen.join() !== drawn.join()) throw new Error(`after sg.seed(${s}) the iteration order [${seen}] differs from order(0) [${drawn}]`);
      if (x.disposed || extra.disposed) throw new Error('DataLoader freed a source or a tensor its transform passed through');
      free(x, extra);
      expectNoLeakSince(since, 'DataLoader (unseeded shuffle)');
    }, 0.5);

  prop(['sg.data.DataLoader'],
    'a transform that throws at batch k: the error reaches the loop, the batches before it were right, nothing leaks, and the next epoch starts over',
    fc.record({ n: fc.integer({ min: 1, max: 12 }), batchSize: fc.integer({ min: 1, max: 5 }), k: fc.integer({ min: 0, max: 4 }) }),
    async ({ n, batchSize, k }) => {
      const since = stats();
      const xs = valuesOf('f32', n * 2, k);
      const x = sg.tensor(xs, [n, 2]);
      const boom = new Error('transform failed');
      let calls = 0;
      let failing = true;
      const loader = new sg.data.DataLoader(x, { batchSize, transform: (b: sg.Tensor) => { if (failing && calls++ === k) { sg.mul(b, 2); throw boom; } return sg.neg(b); } });
      let err: unknown = null;
      let seen = 0;
      try {
        for (const b of loader) {
          const want = xs.slice(seen * batchSize * 2, (seen * batchSize + b.shape[0]) * 2).map((v) => -v);
          expectClose(b.dataSync(), want, `DataLoader batch ${seen} before the failing transform`, { ulps: 0 });
          seen++;
        }
      } catch (e) { err = e; }
      const batches = loader.length;
      if (k < batches ? err !== boom || seen !== k : err !== null || seen !== batches) throw new Error(`DataLoader: transform failing at batch ${k} of ${batches}: ${seen} batches, error ${String((err as Error)?.message)}`);
      failing = false;
      let again = 0;
      for (const _ of loader) again++;
      if (again !== batches || loader.epoch !== 2) throw new Error(`DataLoader after a failed epoch: ${again} batches, epoch ${loader.epoch}`);
      free(x);
      expectNoLeakSince(since, 'DataLoader (throwing transform)');
    }, 0.5);

  prop(['sg.data.DataLoader#batchOf', 'sg.data.DataLoader'],
    'batchOf(rows) and transform give the rows of the sources (transform intermediates freed, its result the caller\'s); a row that is not a sample index is a clear error',
    fc.record({
      n: fc.integer({ min: 0, max: 9 }), rows: fc.array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, 9, 1.5, NaN, Infinity, 2 ** 32) }), { maxLength: 6 }),
      transform: fc.boolean(), scale: fc.constantFrom(1, 0.5, -2),
    }), async ({ n, rows, transform, scale }) => {
      const xs = valuesOf('f32', n * 2, 7);
      const x = sg.tensor(xs, [n, 2]);
      const y = Uint8Array.from(valuesOf('u8', n, 3));
      const loader = new sg.data.DataLoader({ x, y }, {
        dtypes: { y: 'int32' },
        transform: transform ? ({ x: bx, y: by }: { x: sg.Tensor; y: sg.Tensor }) => ({ x: sg.add(sg.mul(bx, scale), 0), y: by }) : undefined,
      });
      const valid = rows.every((r) => Number.isInteger(r) && r >= 0 && r < n);
      await runCase(() => loader.batchOf(rows) as { x: sg.Tensor; y: sg.Tensor }, {
        fn: 'DataLoader', expect: valid ? 'ok' : 'error', args: ['rows'], state: [x],
        check: ({ x: bx, y: by }) => {
          expectShape(bx, [rows.length, 2], 'float32', 'batchOf x');
          expectShape(by, [rows.length], 'int32', 'batchOf y');
          const wantX = rows.flatMap((r) => [xs[2 * r], xs[2 * r + 1]].map((v) => (transform ? f32(v * scale) : v)));
          expectClose(bx.dataSync(), wantX, 'batchOf x', { ulps: 0 });
          expectClose(by.dataSync(), rows.map((r) => y[r]), 'batchOf y', { ulps: 0 });
        },
      });
      free(x);
    });
});

// ---- fit, evaluate, predict ---------------------------------------------------

interface Data { n: number; inF: number; outF: number; xs: number[]; labels: number[]; targets: number[] }

const dataArb = fc.record({ n: fc.integer({ min: 0, max: 13 }), inF: fc.integer({ min: 1, max: 5 }), outF: fc.integer({ min: 1, max: 4 }), salt: fc.integer({ min: 0, max: 99 }) })
  .map(({ n, inF, outF, salt }): Data => ({
    n, inF, outF,
    xs: valuesOf('f32', n * inF, salt).map((v) => f32(v / 5)),
    labels: valuesOf('u8', n, salt + 1).map((v) => v % outF),
    targets: valuesOf('f32', n * outF, salt + 2).map((v) => f32(v / 10)),
  }));

function loaderOf(d: Data, loss: 'crossEntropy' | 'mse', batchSize: number, dropLast = false): { x: sg.Tensor; y: sg.Tensor; loader: sg.data.DataLoader<any, any> } {
  const x = sg.tensor(d.xs, [d.n, d.inF]);
  const y = loss === 'crossEntropy' ? sg.tensor(d.labels, [d.n], { dtype: 'int32' }) : sg.tensor(d.targets, [d.n, d.outF]);
  return { x, y, loader: new sg.data.DataLoader({ x, y }, { batchSize, dropLast }) };
}

/** float64 forward of a Linear from its parameters: out = x Wᵀ + b, and each output's sum of |terms| (the scale of float32 rounding). */
function linearRef(m: sg.nn.Linear, xs: number[], n: number, inF: number, outF: number): { out: number[]; mag: number[] } {
  const W = m.weight.dataSync();
  const B = m.bias ? m.bias.dataSync() : new Float32Array(outF);
  const out: number[] = [];
  const mag: number[] = [];
  for (let r = 0; r < n; r++) for (let o = 0; o < outF; o++) {
    let s = B[o];
    let a = Math.abs(B[o]);
    for (let k = 0; k < inF; k++) { s += xs[r * inF + k] * W[o * inF + k]; a += Math.abs(xs[r * inF + k] * W[o * inF + k]); }
    out.push(s);
    mag.push(a);
  }
  return { out, mag };
}

/** Per-row losses in float64 from outputs. */
function lossRows(out: ArrayLike<number>, d: Data, loss: 'crossEntropy' | 'mse'): number[] {
  const rows: number[] = [];
  for (let r = 0; r < d.n; r++) {
    const row = Array.from(out).slice(r * d.outF, (r + 1) * d.outF);
    if (loss === 'crossEntropy') {
      const m = Math.max(...row);
      rows.push(m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[d.labels[r]]);
    } else {
      rows.push(row.reduce((s, v, o) => s + (v - d.targets[r * d.outF + o]) ** 2, 0) / d.outF);
    }
  }
  return rows;
}

const paramState = (m: sg.nn.Module, opt: sg.optim.Optimizer<any>) => [...m.parameters(), ...(((opt as any).slots ?? []) as { state?: sg.Tensor[] }[]).flatMap((s) => s.state ?? [])];

describe('training', () => {
  prop(['sg.fit', 'sg.evaluate', 'sg.predict'],
    'fit equals a hand-written loop (forward, loss, zeroGrad, backward, step) bit for bit, with history counts and sample-weighted losses; predict equals a float64 Linear; evaluate\'s loss and accuracy equal plain-JS recomputations from predict; memory is flat',
    fc.record({
      d: dataArb, loss: fc.constantFrom('crossEntropy' as const, 'mse' as const), batchSize: fc.integer({ min: 1, max: 16 }), epochs: fc.integer({ min: 0, max: 2 }),
      lr: fc.constantFrom(0.1, 0.5), momentum: fc.constantFrom(0, 0.9), dropLast: fc.boolean(), predictBatch: fc.integer({ min: 1, max: 20 }), clip: fc.option(fc.constantFrom(0.05, 1, 100), { nil: undefined }),
    }), async ({ d, loss, batchSize, epochs, lr, momentum, dropLast, predictBatch, clip }) => {
      const since = stats();
      const { x, y, loader } = loaderOf(d, loss, batchSize, dropLast);
      const model = new sg.nn.Linear(d.inF, d.outF, { seed: 5 });
      const twin = new sg.nn.Linear(d.inF, d.outF, { seed: 5 });
      const opt = new sg.optim.SGD(model.parameters(), { lr, momentum });
      const opt2 = new sg.optim.SGD(twin.parameters(), { lr, momentum });
      const lossOf = (o: sg.Tensor, t: sg.Tensor) => (loss === 'crossEntropy' ? sg.crossEntropy(o, t) : sg.mse(o, t));
      const stepLosses: number[][] = [];
      const stepNorms: number[] = [];
      // The reference loop, over the same batches.
      const twinLoader = new sg.data.DataLoader({ x, y }, { batchSize, dropLast });
      for (let e = 0; e < epochs; e++) {
        const losses: number[] = [];
        for (const b of twinLoader) {
          sg.tidy(() => {
            const l = lossOf(twin.forward(b.x), b.y);
            losses.push(l.item() * b.x.shape[0]);
            opt2.zeroGrad();
            l.backward();
            if (clip !== undefined) stepNorms.push(sg.optim.clipGradNorm(twin.parameters(), clip));
            opt2.step();
          });
        }
        stepLosses.push(losses);
      }
      opt2.zeroGrad();
      const infos: sg.StepInfo[] = [];
      const before = stats();
      const valLoader = new sg.data.DataLoader({ x, y }, { batchSize: predictBatch });
      const metricsArg = loss === 'crossEntropy' ? ['accuracy' as const] : undefined;
      await runCase(() => sg.fit(model, loader, { optimizer: opt, loss, epochs, progress: false, clipGradNorm: clip, validation: valLoader, metrics: metricsArg, onStep: (i) => { infos.push(i); } }), {
        fn: 'fit', expect: 'ok', state: paramState(model, opt), mutates: true,
        check: (h) => {
          const per = dropLast ? Math.floor(d.n / batchSize) : Math.ceil(d.n / batchSize);
          const samples = dropLast ? per * batchSize : d.n;
          if (h.epochs.length !== epochs || h.loss.length !== epochs || h.steps !== epochs * per || h.samples !== epochs * samples || h.stopped) {
            throw new Error(`fit history: ${h.epochs.length} epochs, ${h.loss.length} losses, ${h.steps} steps, ${h.samples} samples; want ${epochs}, ${epochs}, ${epochs * per}, ${epochs * samples}`);
          }
          h.epochs.forEach((log, e) => {
            if (log.epoch !== e + 1 || log.steps !== per || log.samples !== samples) throw new Error(`fit epoch ${e + 1}: ${JSON.stringify(log)}`);
            const want = samples === 0 ? NaN : stepLosses[e].reduce((a, b) => a + b, 0) / samples;
            expectClose([log.loss, h.loss[e]], [want, want], `fit epoch ${e + 1} loss`, { rel: 1e-12, abs: 0 });
          });
          if (infos.length !== epochs * per) throw new Error(`fit called onStep ${infos.length} times, want ${epochs * per}`);
          if (clip !== undefined) expectClose(infos.map((i) => i.gradNorm ?? NaN), stepNorms, 'fit gradNorm', { rel: 1e-12, abs: 0 });
          model.parameters().forEach((p, i) => expectClose(p.dataSync(), twin.parameters()[i].dataSync(), `fit parameter ${i} against the hand-written loop`, { ulps: 0 }));
          if (model.parameters().some((p) => p.grad !== null)) throw new Error('fit left gradients on the parameters');
          if ((h.validation.loss ?? []).length !== epochs || (metricsArg && (h.metrics.accuracy.length !== epochs || (h.validation.accuracy ?? []).length !== epochs))) throw new Error(`fit history: validation ${JSON.stringify(h.validation)}, metrics ${JSON.stringify(h.metrics)} for ${epochs} epochs`);
          if (epochs > 0) {
            // The last epoch's validation ran on the final parameters: it is evaluate's answer.
            const ev = sg.evaluate(model, valLoader, { loss, metrics: metricsArg ? ['loss', 'accuracy'] : ['loss'] });
            expectClose([h.validation.loss[epochs - 1]], [ev.loss], 'fit validation loss against evaluate', { ulps: 0 });
            if (metricsArg) expectClose([h.validation.accuracy[epochs - 1]], [ev.accuracy], 'fit validation accuracy against evaluate', { ulps: 0 });
          }
        },
      });
      const mid = stats();
      if (mid.tensors !== before.tensors || mid.bytes !== before.bytes) throw new Error(`fit left ${mid.tensors - before.tensors} tensors alive`);

      // predict (tensor in chunks) against float64; evaluate against plain JS from predict's outputs.
      const want = linearRef(model, d.xs, d.n, d.inF, d.outF);
      let predicted: number[] = [];
      await runCase(() => sg.predict(model, x, { batchSize: predictBatch }), {
        fn: 'predict', expect: 'ok', state: [x, ...model.parameters()],
        check: (out) => {
          expectShape(out, [d.n, d.outF], 'float32', 'predict');
          predicted = Array.from(out.dataSync());
          predicted.forEach((v, i) => {
            // float32 products and sums: a few roundings of the largest partial sum, at most the sum of |terms|.
            if (!(Math.abs(v - want.out[i]) <= 3e-7 * (d.inF + 1) * want.mag[i] + 1e-30)) throw new Error(`predict[${i}] against a float64 Linear: got ${v}, want ${want.out[i]} (sum of |terms| ${want.mag[i]})`);
          });
        },
      });
      const evalLoader = new sg.data.DataLoader({ x, y }, { batchSize: predictBatch });
      await runCase(() => sg.predict(model, evalLoader), { fn: 'predict', expect: 'ok', check: (out) => expectClose(out.dataSync(), predicted, 'predict over a DataLoader against predict over the tensor', { ulps: 0 }) });
      const metrics = loss === 'crossEntropy' ? ['loss', 'accuracy'] as const : ['loss'] as const;
      await runCase(() => sg.evaluate(model, evalLoader, { loss, metrics: [...metrics] }), {
        fn: 'evaluate', expect: 'ok', state: [x, y, ...model.parameters()],
        check: (r) => {
          if (r.samples !== d.n) throw new Error(`evaluate: samples ${r.samples}, want ${d.n}`);
          const rows = lossRows(predicted, d, loss);
          const meanLoss = d.n === 0 ? NaN : rows.reduce((a, b) => a + b, 0) / d.n;
          // The library's loss is float32: its rounding scales with the outputs (and targets).
          const scale = 1 + Math.max(0, ...predicted.map(Math.abs), ...(loss === 'mse' ? d.targets.map(Math.abs) : []));
          expectClose([r.loss], [meanLoss], 'evaluate loss against plain JS from predict', { abs: 2e-6 * scale * (loss === 'mse' ? scale : 1), rel: 1e-5 });
          if (loss === 'crossEntropy') {
            let hits = 0;
            for (let i = 0; i < d.n; i++) {
              const row = predicted.slice(i * d.outF, (i + 1) * d.outF);
              if (row.indexOf(Math.max(...row)) === d.labels[i]) hits++;
            }
            expectClose([r.accuracy], [d.n === 0 ? NaN : hits / d.n], 'evaluate accuracy', { abs: 1e-12 });
          }
        },
      });
      free(x, y, model.parameters(), twin.parameters());
      opt.dispose();
      opt2.dispose();
      expectNoLeakSince(since, 'fit/evaluate/predict');
    }, 1.5);

  prop(['sg.fit'],
    'a loss function that throws (or a NaN loss) at step k: fit rethrows it (or names fit and the loss), and the parameters and optimizer state are those after step k - 1',
    fc.record({ d: dataArb.filter((d) => d.n >= 2), failAt: fc.integer({ min: 1, max: 6 }), how: fc.constantFrom('throw', 'nan', 'notTensor'), opt: fc.constantFrom('SGD', 'Adam') }),
    async ({ d, failAt, how, opt: kind }) => {
      const since = stats();
      const { x, y, loader } = loaderOf(d, 'crossEntropy', 2);
      const model = new sg.nn.Linear(d.inF, d.outF, { seed: 3 });
      const opt: sg.optim.Optimizer<any> = kind === 'SGD' ? new sg.optim.SGD(model.parameters(), { lr: 0.3, momentum: 0.9 }) : new sg.optim.Adam(model.parameters(), { lr: 0.1 });
      const boom = new Error('user loss failed');
      let calls = 0;
      let snap = snapshot(paramState(model, opt), 'parameter/optimizer state');
      const steps = loader.length * 3;
      const lossFn = (o: sg.Tensor, t: sg.Tensor) => {
        if (++calls === failAt) {
          if (how === 'throw') throw boom;
          if (how === 'nan') return sg.sqrt(sg.neg(sg.add(sg.abs(sg.crossEntropy(o, t)), 1)));
          return 0.5 as unknown as sg.Tensor;
        }
        return sg.crossEntropy(o, t);
      };
      let err: unknown = null;
      try {
        // Snapshot after each successful step: a rejected step must leave exactly that.
        sg.fit(model, loader, { optimizer: opt, loss: lossFn, epochs: 3, progress: false, onStep: () => { snap = snapshot(paramState(model, opt), 'parameter/optimizer state'); } });
      } catch (e) {
        err = e;
      }
      if (failAt > steps) {
        if (err !== null) throw new Error(`fit failed without a failing step: ${(err as Error).message}`);
      } else {
        if (err === null) throw new Error(`fit accepted a ${how} loss at step ${failAt}`);
        if (how === 'throw') { if (err !== boom) throw new Error(`fit did not rethrow the loss function's error: ${(err as Error).message}`); } else expectClearError(err, 'fit', ['loss']);
        snap.check();
      }
      // After a failure the previous step's gradients stay on the parameters (fit's contract frees them only at the end).
      for (const p of model.parameters()) { if (p.grad) p.grad.dispose(); p.grad = null; }
      free(x, y, model.parameters());
      opt.dispose();
      expectNoLeakSince(since, `fit (${how} at step ${failAt})`);
    });

  prop(['sg.fit', 'sg.evaluate', 'sg.predict'],
    'hostile model, data and options are clear errors naming the function and the argument; nothing is trained, nothing leaks',
    fc.record({
      fn: fc.constantFrom('fit', 'evaluate', 'predict'),
      what: fc.constantFrom('model', 'data', 'options', 'optimizer', 'loss', 'epochs', 'metrics', 'validation', 'schedule', 'clipGradNorm', 'onStep', 'progress', 'unknown', 'batchSize', 'modelOutput', 'batch'),
      bad: hostile, badNumber: fc.constantFrom(-1, 1.5, NaN, Infinity, '2', 0, -0.5),
    }), async ({ fn, what, bad, badNumber }) => {
      const since = stats();
      const d: Data = { n: 3, inF: 2, outF: 2, xs: [1, 2, 3, 4, 5, 6], labels: [0, 1, 1], targets: [] };
      const { x, y, loader } = loaderOf(d, 'crossEntropy', 2);
      const model = new sg.nn.Linear(2, 2, { seed: 1 });
      // The caller's train/eval mode is user state: kept by evaluate and predict, whatever happens.
      const wasTraining = badNumber === 0;
      model.train(wasTraining);
      const opt = new sg.optim.SGD(model.parameters(), { lr: 0.1 });
      let m: unknown = model;
      let data: unknown = fn === 'predict' ? x : loader;
      const base: Record<string, unknown> = fn === 'fit' ? { optimizer: opt, loss: 'crossEntropy', progress: false } : fn === 'evaluate' ? { loss: 'crossEntropy' } : {};
      let opts: unknown = base;
      let args: string[] = [what];
      let expectKind: 'error' | 'either' = 'error';
      let fns = [fn];
      const numberish = typeof bad === 'number' ? badNumber : bad;
      // Empty iterables are valid (no batches).
      const emptyIterable = (Array.isArray(bad) && bad.length === 0) || bad instanceof Map || bad instanceof Set;
      const iterable = emptyIterable || Array.isArray(bad) || ArrayBuffer.isView(bad) && !(bad instanceof DataView);
      switch (what) {
        // A function is a model; its output then fails the named loss (crossEntropy) or predict's check.
        case 'model': m = bad; if (typeof bad === 'function') { expectKind = 'either'; fns = [fn, 'crossEntropy']; } break;
        case 'data': data = bad; args = ['loader', 'batches', 'data', 'batch']; expectKind = emptyIterable ? 'either' : 'error'; break;
        case 'options': opts = bad; args = ['options', 'optimizer', 'loss', 'nothing to compute']; expectKind = fn === 'fit' ? 'error' : 'either'; break;
        case 'unknown': opts = { ...base, epoch: 2 }; args = ['epoch']; expectKind = fn === 'fit' ? 'error' : 'either'; break;
        case 'modelOutput': m = () => 5; args = fn === 'predict' ? ['model'] : []; fns = [fn, 'crossEntropy']; break;
        case 'batch': data = [5, 'x']; args = ['batch']; break;
        case 'batchSize': opts = { ...base, batchSize: numberish }; args = ['batchSize']; expectKind = fn === 'fit' ? 'error' : fn === 'predict' && !(Number.isInteger(numberish) && (numberish as number) >= 1) ? 'error' : 'either'; break;
        default:
          opts = { ...base, [what]: what === 'epochs' || what === 'clipGradNorm' ? numberish : bad };
          if (fn !== 'fit') expectKind = 'either';
          if (fn === 'fit' && what === 'epochs' && Number.isInteger(numberish) && (numberish as number) >= 0) expectKind = 'either';
          if (fn === 'fit' && what === 'clipGradNorm' && typeof numberish === 'number' && numberish >= 0) expectKind = 'either';
          if (fn === 'fit' && what === 'progress' && typeof bad === 'boolean') expectKind = 'either';
          if (fn === 'fit' && (what === 'onStep' || what === 'onEpoch') && typeof bad === 'function') expectKind = 'either';
          if (fn === 'fit' && what === 'metrics' && (emptyIterable && !(bad instanceof Map || bad instanceof Set) || (bad !== null && typeof bad === 'object' && Object.getPrototypeOf(bad) === Object.prototype && Object.keys(bad).length === 0))) expectKind = 'either';
          // Validation batches are only read after the first epoch: an iterable of bad batches fails then (training has run).
          if (fn === 'fit' && what === 'validation' && iterable) expectKind = 'either';
      }
      // null (and undefined) for an option means "not given".
      if (bad === null || bad === undefined) expectKind = 'either';
      await runCase(() => {
        if (fn === 'fit') return sg.fit(m as any, data as any, opts as any);
        if (fn === 'evaluate') return sg.evaluate(m as any, data as any, opts as any);
        return sg.predict(m as any, data as any, opts as any);
        // fit may fail after training steps (bad validation batches): the last step's gradients then stay on the
        // parameters (its documented contract frees them only at the end), so memory is checked once they are freed.
      }, { fn: fns, expect: expectKind, args: expectKind === 'error' && args.length ? args : undefined, state: expectKind === 'either' ? [] : [x, y, ...model.parameters()], mutates: expectKind === 'either', frees: fn === 'fit' });
      if (fn !== 'fit' && model.training !== wasTraining) throw new Error(`${fn} left the model in ${model.training ? 'train' : 'eval'} mode`);
      opt.zeroGrad();
      free(x, y, model.parameters());
      opt.dispose();
      expectNoLeakSince(since, fn);
    }, 1.5);

  prop(['sg.predict'], 'predict over 0 rows gives [0, ...outputShape] (the model is run once on the empty tensor)',
    fc.record({ inF: fc.integer({ min: 1, max: 4 }), outF: fc.integer({ min: 1, max: 4 }) }), async ({ inF, outF }) => {
      const model = new sg.nn.Linear(inF, outF, { seed: 1 });
      const x = sg.zeros([0, inF]);
      await runCase(() => sg.predict(model, x), { fn: 'predict', expect: 'ok', check: (out) => expectShape(out, [0, outF], 'float32', 'predict on 0 rows') });
      free(x, model.parameters());
    }, 0.2);
});

// ---- clipGradNorm and metrics --------------------------------------------------

describe('clipGradNorm and accuracy', () => {
  prop(['sg.optim.clipGradNorm'],
    'the returned norm is the float64 L2 norm of all gradients; above maxNorm every gradient is scaled by maxNorm / (norm + 1e-6); non-finite norms leave gradients unchanged (or are an error with errorIfNonfinite); bad gradients and arguments are clear errors that scale nothing',
    fc.record({
      shapes: fc.array(fc.oneof(fc.constant([]), fc.tuple(fc.integer({ min: 0, max: 37 })), fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 9 }))), { minLength: 0, maxLength: 4 }),
      gradForm: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'none', 'nan', 'inf', 'int32', 'shape', 'string', 'disposed', 'huge'),
      maxNorm: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 0.1, 1, 5, 1e6, 1e-30) }, { weight: 1, arbitrary: hostile }),
      options: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.record({ errorIfNonfinite: fc.boolean() }) }, { weight: 1, arbitrary: hostile }),
      paramsForm: fc.constantFrom('array', 'array', 'array', 'single', 'set', 'hostile', 'int'), bad: hostile, salt: fc.integer({ min: 0, max: 99 }),
    }), async ({ shapes, gradForm, maxNorm, options, paramsForm, bad, salt }) => {
      const since = stats();
      const shp = paramsForm === 'single' ? (shapes.length ? shapes.slice(0, 1) : [[3]]) : shapes;
      const params = shp.map((s) => sg.zeros(s as number[], { requiresGrad: true }));
      const grads: number[][] = params.map((p, i) => valuesOf('f32', p.size, salt + i).map((v) => (gradForm === 'huge' ? f32(v * 1e19) : v)));
      const extra: sg.Tensor[] = [];
      params.forEach((p, i) => { const g = sg.tensor(grads[i], p.shape as number[]); extra.push(g); p.grad = g; });
      const target = params.length > 0 ? params.length - 1 : -1;
      let badGrad = false;
      if (target >= 0 && params[target].size > 0) {
        const p = params[target];
        switch (gradForm) {
          case 'none': p.grad = null; grads[target] = []; break;
          case 'nan': grads[target][0] = NaN; p.grad!.dispose(); p.grad = sg.tensor(grads[target], p.shape as number[]); extra.push(p.grad); break;
          case 'inf': grads[target][0] = -Infinity; p.grad!.dispose(); p.grad = sg.tensor(grads[target], p.shape as number[]); extra.push(p.grad); break;
          case 'int32': p.grad = sg.tensor(grads[target].map(Math.round), p.shape as number[], { dtype: 'int32' }); extra.push(p.grad); badGrad = true; break;
          case 'shape': p.grad = sg.tensor([...grads[target], 1]); extra.push(p.grad); badGrad = true; break;
          case 'string': (p as any).grad = 'grad'; badGrad = true; break;
          case 'disposed': p.grad!.dispose(); badGrad = true; break;
          default: break;
        }
      }
      const intParam = sg.tensor([1, 2], undefined, { dtype: 'int32' });
      const P: unknown = paramsForm === 'single' ? params[0] : paramsForm === 'set' ? new Set(params) : paramsForm === 'hostile' ? bad : paramsForm === 'int' ? [...params, intParam] : params;
      const paramsOk = paramsForm === 'array' || paramsForm === 'single' || paramsForm === 'set' || (paramsForm === 'hostile' && (Array.isArray(bad) ? bad.length === 0 : bad instanceof Map || bad instanceof Set));
      const maxOk = typeof maxNorm === 'number' && Number.isFinite(maxNorm) && maxNorm >= 0;
      const optsObj = options === undefined || options === null || (typeof options === 'object' && !Array.isArray(options) && !ArrayBuffer.isView(options) && !(options instanceof Map) && !(options instanceof Set));
      const optsOk = options === undefined || (optsObj && (options === null || Object.keys(options as object).length === 0 || typeof (options as any).errorIfNonfinite === 'boolean'));
      const usedParams = paramsForm === 'hostile' ? [] : params;
      // float64 norm of what the call sees (hostile Map/Set/[] params hold no gradients).
      let sq = 0;
      if (paramsForm !== 'hostile') grads.forEach((g) => g.forEach((v) => (sq += v * v)));
      const norm = Math.sqrt(sq);
      const nonfinite = !Number.isFinite(norm);
      const wantError = !paramsOk || (paramsForm !== 'hostile' && badGrad) || paramsForm === 'int' || !maxOk || !optsOk || (nonfinite && (options as any)?.errorIfNonfinite === true);
      const state = [...usedParams, ...usedParams.map((p) => (p.grad instanceof sg.Tensor && !p.grad.disposed ? p.grad : null))];
      const gradSnap = snapshot(state.filter((t) => t !== null), 'gradient');
      await runCase(() => sg.optim.clipGradNorm(P as any, maxNorm as number, options as any), {
        // An infinite maxNorm (clip nothing) may be accepted or refused.
        fn: 'clipGradNorm', expect: maxNorm === Infinity ? 'either' : wantError ? 'error' : 'ok', state, mutates: true,
        // Checked in this order: params, maxNorm, options, then each gradient.
        args: !wantError ? undefined : !paramsOk ? ['params'] : paramsForm === 'int' ? ['params['] : !maxOk ? ['maxNorm'] : !optsOk ? ['options'] : badGrad ? ['grad'] : ['norm'],
        check: (got) => {
          if (nonfinite) {
            if (!Object.is(got, norm) && !(Number.isNaN(got) && Number.isNaN(norm)) && !(got === Infinity && Number.isNaN(norm))) throw new Error(`clipGradNorm returned ${got}, float64 norm ${norm}`);
            gradSnap.check();
            return;
          }
          expectClose([got], [norm], 'clipGradNorm norm', { rel: 2e-6, abs: 1e-30 });
          const coef = (maxNorm as number) / (norm + 1e-6);
          usedParams.forEach((p, i) => {
            if (!(p.grad instanceof sg.Tensor)) return;
            const want = grads[i].map((v) => (coef < 1 ? v * coef : v));
            expectClose(p.grad.dataSync(), want, `clipGradNorm grad ${i} (norm ${norm}, maxNorm ${String(maxNorm)})`, coef < 1 ? { rel: 4e-6, abs: 1e-44 } : { ulps: 0 });
          });
        },
      });
      for (const p of params) { if ((p as any).grad !== null && !(p.grad instanceof sg.Tensor)) (p as any).grad = null; }
      free(extra, params, intParam);
      expectNoLeakSince(since, 'clipGradNorm');
    }, 1.5);

  prop(['sg.metrics.accuracy'],
    'accuracy is the fraction of rows whose first largest logit is at the label (plain JS argmax counting), for int32/uint8/int8/float32 labels and leading batch axes; NaN for no rows; mismatched or hostile arguments are clear errors',
    fc.record({
      lead: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 2 }), C: fc.integer({ min: 0, max: 6 }), salt: fc.integer({ min: 0, max: 999 }),
      labelDtype: fc.constantFrom('int32', 'uint8', 'int8', 'float32'), form: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'ties', 'inf', 'labelShape', 'hostileOut', 'hostileLabels', 'intOut', 'scalarOut'), bad: hostile,
    }), async ({ lead, C, salt, labelDtype, form, bad }) => {
      const rows = size(lead);
      const logits = valuesOf('f32', rows * C, salt).map((v) => (form === 'ties' ? Math.round(v / 8) : form === 'inf' && Math.round(v) % 3 === 0 ? Infinity * Math.sign(v || 1) : v));
      const labels = valuesOf('u8', rows, salt + 1).map((v) => v % Math.max(1, C + 1));
      const out = sg.tensor(logits, [...lead, C]);
      const y = sg.tensor(labels, form === 'labelShape' ? [...lead, 1] : lead, { dtype: labelDtype as sg.DType });
      const outInt = sg.tensor(labels, [rows], { dtype: 'int32' });
      const scalarOut = sg.tensor(1);
      const O = form === 'hostileOut' ? bad : form === 'intOut' ? outInt : form === 'scalarOut' ? scalarOut : out;
      const Y = form === 'hostileLabels' ? bad : y;
      const bad0 = form === 'labelShape' || form === 'hostileOut' || form === 'hostileLabels' || form === 'intOut' || form === 'scalarOut' || (rows > 0 && C === 0);
      await runCase(() => sg.metrics.accuracy(O, Y), {
        fn: 'accuracy', expect: bad0 ? 'error' : 'ok', state: [out, y],
        args: form === 'hostileOut' || form === 'intOut' || form === 'scalarOut' ? ['output'] : form === 'labelShape' || form === 'hostileLabels' ? ['labels'] : undefined,
        check: (acc) => {
          let hits = 0;
          for (let r = 0; r < rows; r++) {
            let best = 0;
            for (let c = 1; c < C; c++) if (logits[r * C + c] > logits[r * C + best]) best = c;
            if (best === labels[r]) hits++;
          }
          expectClose([acc], [rows === 0 ? NaN : hits / rows], `accuracy (${rows} rows, ${C} classes)`, { abs: 0 });
        },
      });
      free(out, y, outInt, scalarOut);
    });
});

// ---- regressions found by the properties above ------------------------------------

describe('regressions', () => {
  test('clipGradNorm: a gradient that is not a live float32 tensor of its parameter\'s shape is a clear error that scales nothing', () => {
    const p = sg.tensor([1, 2], undefined, { requiresGrad: true });
    const q = sg.tensor([3], undefined, { requiresGrad: true });
    const qg = sg.tensor([30]);
    q.grad = qg;
    for (const [g, arg] of [[sg.tensor([3, 4], undefined, { dtype: 'int32' }), 'int32'], [sg.tensor([3, 4, 5]), '[3]'], [sg.tensor([3]), '[1]']] as const) {
      p.grad = g;
      expect(() => sg.optim.clipGradNorm([q, p], 1)).toThrow(/clipGradNorm: params\[1\]\.grad/);
      expect(() => sg.optim.clipGradNorm([q, p], 1)).toThrow(arg);
      expect(Array.from(qg.dataSync())).toEqual([30]);
      g.dispose();
    }
    p.grad = sg.tensor([3, 4]);
    p.grad.dispose();
    expect(() => sg.optim.clipGradNorm([q, p], 1)).toThrow(/clipGradNorm: params\[1\]\.grad .* was disposed/);
    p.grad = null;
    free(p, q, qg);
  });

  test('clipGradNorm: gradients whose squares overflow float32 still give the float64 norm and are clipped', () => {
    const p = sg.tensor([0, 0], undefined, { requiresGrad: true });
    p.grad = sg.tensor([3e20, 4e20]);
    expect(sg.optim.clipGradNorm([p], 1)).toBeCloseTo(5e20, -14);
    expectClose(p.grad.dataSync(), [0.6, 0.8], 'clipped', { rel: 1e-6 });
    free(p);
  });

  test('clipGradNorm: a coefficient below float32\'s normal range still scales (it is not rounded to 0)', () => {
    const p = sg.tensor([0, 0], undefined, { requiresGrad: true });
    p.grad = sg.tensor([3e20, 4e20]);
    sg.optim.clipGradNorm([p], 1e-30);
    expectClose(p.grad.dataSync(), [6e-31, 8e-31], 'clipped to 1e-30', { rel: 1e-6 });
    free(p);
  });

  test('predict over a tensor of 0 rows returns [0, outputs], not [0]', () => {
    const model = new sg.nn.Linear(3, 2, { seed: 1 });
    const x = sg.zeros([0, 3]);
    const before = stats();
    const out = sg.predict(model, x);
    expect(out.shape).toEqual([0, 2]);
    out.dispose();
    expect(stats()).toEqual(before);
    free(x, model.parameters());
  });
});
