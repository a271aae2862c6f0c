// Tensors, creation, memory scopes, the runtime entry points and Tensor's own methods.
import fc from 'fast-check';
import { describe, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import * as sg from '../../src/index.js';
import { anyF32, anyRankShape, DTYPES, hostile, hostileOption, make, numberOption, optionBag, shape, tensorOf, type DType } from './arbitraries.js';
import { canary, expectClearError, expectClose, expectShape, free, prop, runCase, stats, tensorsIn, useRuntime } from './oracle.js';

useRuntime();

const RANGE: Record<DType, [number, number]> = { float32: [-Infinity, Infinity], int32: [-(2 ** 31), 2 ** 31 - 1], int8: [-128, 127], uint8: [0, 255] };
const isPlainObject = (o: unknown): o is Record<string, unknown> => o !== null && typeof o === 'object' && !Array.isArray(o) && !(o instanceof Map) && !(o instanceof Set) && !ArrayBuffer.isView(o);
const validShape = (s: unknown): s is number[] => Array.isArray(s) && s.length <= 8 && s.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0);
const sizeOf = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const fits = (dtype: DType, v: number): boolean => dtype === 'float32' || (Number.isInteger(v) && v >= RANGE[dtype][0] && v <= RANGE[dtype][1]);

function nest(data: number[], shape: number[]): unknown {
  if (shape.length === 0) return data[0];
  const [n, ...rest] = shape;
  const step = sizeOf(rest);
  return Array.from({ length: n }, (_, i) => nest(data.slice(i * step, (i + 1) * step), rest));
}

const typedOf = (dtype: DType, data: number[]) =>
  dtype === 'float32' ? Float32Array.from(data) : dtype === 'int32' ? Int32Array.from(data) : dtype === 'int8' ? Int8Array.from(data) : Uint8Array.from(data);

/** The values a created tensor must hold: float32 rounding, -0 and NaN kept. */
const stored = (dtype: DType, data: number[]) => Array.from(typedOf(dtype, data));

describe('creation', () => {
  const dataForm = fc.constantFrom('nested', 'typed', 'flat', 'hostile');
  const shapeForm = fc.constantFrom('none', 'exact', 'wrongSize', 'hostile');
  prop(['sg.tensor'], 'nested arrays, typed arrays, shapes and dtypes: the values, or a clear error', fc.record({
    spec: tensorOf(anyRankShape, fc.constantFrom(...DTYPES)),
    dataForm, shapeForm, bad: hostile,
    options: optionBag({ dtype: fc.constantFrom<unknown>(...DTYPES, 'float64', 'int64'), requiresGrad: fc.boolean() }),
  }), async ({ spec, dataForm, shapeForm, bad, options }) => {
    const data = dataForm === 'nested' ? nest(spec.data, spec.shape) : dataForm === 'typed' ? typedOf(spec.dtype, spec.data) : dataForm === 'flat' ? spec.data : bad;
    const shapeArg = shapeForm === 'none' ? undefined : shapeForm === 'exact' ? spec.shape : shapeForm === 'wrongSize' ? [...spec.shape, 2] : bad;
    const opts = options as Record<string, unknown> | null | undefined;
    const optsOk = opts === undefined || isPlainObject(opts);
    // A null option value may mean "not given".
    const dtype = (isPlainObject(opts) && opts.dtype != null ? opts.dtype : dataForm === 'typed' && spec.dtype !== 'float32' ? spec.dtype : 'float32') as DType;
    const dtypeOk = DTYPES.includes(dtype);
    const flatLen = spec.data.length;
    // Nested arrays show their shape only down to the first empty level.
    const zeroAt = spec.shape.indexOf(0);
    const dataShape = dataForm === 'nested' ? (zeroAt >= 0 ? spec.shape.slice(0, zeroAt + 1) : spec.shape) : [flatLen];
    // A null shape is an omitted optional argument: the shape comes from the data.
    const finalShape = shapeArg == null ? (dataForm === 'flat' ? [flatLen] : dataShape) : shapeArg;
    const shapeOk = validShape(finalShape) && sizeOf(finalShape as number[]) === flatLen && (dataForm !== 'nested' || spec.shape.length <= 8);
    const rg = isPlainObject(opts) ? opts.requiresGrad : undefined;
    const rgOk = rg == null || rg === false || (rg === true && dtype === 'float32');
    const valuesOk = dtypeOk && stored(spec.dtype, spec.data).every((v) => fits(dtype, v));
    const dataOk = dataForm !== 'hostile';
    const valid = optsOk && dtypeOk && shapeOk && rgOk && valuesOk && dataOk;
    const certain = valid || (opts !== null && (!dtypeOk || (!shapeOk && dataOk && validShape(finalShape)) || (dataOk && !valuesOk && dtypeOk)) && (typeof rg === 'boolean' || rg == null));
    await runCase(() => sg.tensor(data as number[], shapeArg as number[], opts as sg.TensorOptions), {
      fn: 'tensor', expect: valid ? (isPlainObject(opts) && opts.dtype === null ? 'either' : 'ok') : certain ? 'error' : 'either',
      check: (t) => {
        if (dataForm === 'hostile') return;
        expectShape(t, finalShape as number[], dtype, 'tensor');
        expectClose(Array.from(t.dataSync()), stored(dtype, stored(spec.dtype, spec.data)), 'tensor values', { signedZero: true });
      },
    });
  }, 3);

  prop(['sg.tensor'], 'deep and hostile nesting: no stack overflow, a clear error past 8 dimensions', fc.constantFrom(1, 8, 9, 100, 20_000), async (depth) => {
    let data: unknown = 1;
    for (let i = 0; i < depth; i++) data = [data];
    await runCase(() => sg.tensor(data as number[]), {
      fn: 'tensor', expect: depth <= 8 ? 'ok' : 'error',
      check: (t) => { expectShape(t, new Array(depth).fill(1), 'float32', 'tensor'); expectClose(t.dataSync(), [1], 'value'); },
    });
  }, 0.4);

  prop(['sg.full', 'sg.zeros', 'sg.ones'], 'fill values of every dtype, or a clear error (nothing leaks)', fc.record({
    which: fc.constantFrom('full', 'zeros', 'ones'),
    shape: fc.oneof({ weight: 4, arbitrary: anyRankShape }, { weight: 1, arbitrary: hostile }),
    value: fc.oneof(anyF32, fc.integer({ min: -300, max: 300 }), fc.constantFrom(1.5, 2 ** 31, -(2 ** 31)), hostile),
    options: optionBag({ dtype: fc.constantFrom<unknown>(...DTYPES, 'bool'), requiresGrad: fc.boolean() }),
  }), async ({ which, shape: s, value, options }) => {
    const opts = options as Record<string, unknown> | null | undefined;
    const v = which === 'full' ? value : which === 'zeros' ? 0 : 1;
    const dtype = (isPlainObject(opts) && opts.dtype != null ? opts.dtype : 'float32') as DType;
    const rg = isPlainObject(opts) ? opts.requiresGrad : undefined;
    const valid = (opts === undefined || isPlainObject(opts)) && validShape(s) && DTYPES.includes(dtype) && typeof v === 'number' && fits(dtype, v)
      && (rg === undefined || rg === false || (rg === true && dtype === 'float32'));
    const certain = opts !== null && (typeof rg === 'boolean' || rg === undefined) && (opts === undefined || isPlainObject(opts));
    const call = which === 'full' ? () => sg.full(s as number[], v as number, opts as sg.TensorOptions) : () => (sg as any)[which](s, opts);
    await runCase(call, {
      fn: which, expect: valid ? (isPlainObject(opts) && opts.dtype === null ? 'either' : 'ok') : certain ? 'error' : 'either',
      check: (t: sg.Tensor) => {
        expectShape(t, s as number[], dtype, which);
        expectClose(Array.from(t.dataSync()), new Array(t.size).fill(dtype === 'float32' ? Math.fround(v as number) : (v as number) + 0), which, { signedZero: true });
      },
    });
  }, 2);

  const seedArb = numberOption(fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(0, 2 ** 32 - 1)));
  prop(['sg.rand', 'sg.randn', 'sg.randint'], 'random tensors: in range, reproducible by seed, spread out; bad options rejected without a leak', fc.record({
    which: fc.constantFrom('rand', 'randn', 'randint'),
    shape: fc.oneof({ weight: 5, arbitrary: shape({ maxRank: 3, maxDim: 40, maxSize: 2000 }) }, { weight: 1, arbitrary: anyRankShape }, { weight: 1, arbitrary: hostile }),
    lo: numberOption(fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(-3e38, -1e30, -(2 ** 31), 0))),
    hi: numberOption(fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(3e38, 1e30, 2 ** 31 - 1, 1))),
    seed: seedArb,
    useOpts: fc.constantFrom('bag', 'null', 'none'),
    dtype: fc.constantFrom<unknown>(undefined, undefined, 'float32', 'int32', 'x'),
    // Sometimes the whole float32 range: [-3e38, 3e38) must still give spread-out samples.
    extreme: fc.integer({ min: 0, max: 5 }),
  }).map((r) => (r.extreme === 0 ? { ...r, which: 'rand', shape: [512], lo: -3e38, hi: 3e38, useOpts: 'bag', dtype: undefined } : r)), async ({ which, shape: s, lo, hi, seed, useOpts, dtype }) => {
    const seedOk = seed === undefined || (typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed <= 2 ** 32 - 1);
    const num = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
    let call: () => sg.Tensor;
    let valid: boolean;
    let within: (v: number) => boolean;
    let randnEdge = false;
    const opts: Record<string, unknown> | null | undefined = useOpts === 'null' ? null : useOpts === 'none' ? undefined : { seed };
    if (isPlainObject(opts) && dtype !== undefined) opts.dtype = dtype;
    const dtypeOk = !isPlainObject(opts) || opts.dtype === undefined || opts.dtype === (which === 'randint' ? 'int32' : 'float32');
    const optsSeedOk = !isPlainObject(opts) || seedOk;
    if (which === 'rand') {
      if (isPlainObject(opts)) { opts.low = lo; opts.high = hi; }
      const low = isPlainObject(opts) && lo != null ? lo : 0;
      const high = isPlainObject(opts) && hi != null ? hi : 1;
      // The bounds are float32 values: past ±3.4028235e38 they are rejected, not rounded to ±Infinity.
      valid = num(low) && num(high) && (high as number) > (low as number) && Math.abs(low as number) <= 3.4028234663852886e38 && Math.abs(high as number) <= 3.4028234663852886e38;
      within = (v) => v >= Math.fround(low as number) && v <= Math.fround(high as number) && Number.isFinite(v);
      call = () => sg.rand(s as number[], opts as any);
    } else if (which === 'randn') {
      if (isPlainObject(opts)) { opts.mean = lo; opts.std = typeof hi === 'number' ? Math.abs(hi) / 100 : hi; }
      const mean = isPlainObject(opts) && opts.mean !== undefined ? opts.mean : 0;
      const std = isPlainObject(opts) && opts.std !== undefined ? opts.std : 1;
      valid = num(mean) && num(std) && (std as number) >= 0 && Math.abs(mean as number) <= 3.4e38 && (std as number) <= 3.4e38;
      // Finite float32 parameters whose 12-sigma range overflows float32 may be refused or give huge samples.
      randnEdge = valid && Math.abs(mean as number) + 12 * (std as number) >= 3e38;
      within = (v) => Number.isFinite(v) && Math.abs(v - (mean as number)) <= 12 * (std as number) * (1 + 1e-6) + Math.abs(mean as number) * 1e-6;
      call = () => sg.randn(s as number[], opts as any);
    } else {
      valid = Number.isInteger(lo) && Number.isInteger(hi) && (hi as number) > (lo as number) && (lo as number) >= -(2 ** 31) && (hi as number) <= 2 ** 31 - 1;
      within = (v) => Number.isInteger(v) && v >= (lo as number) && v < (hi as number);
      call = () => sg.randint(s as number[], lo as number, hi as number, opts as any);
    }
    valid = valid && validShape(s) && optsSeedOk && dtypeOk;
    await runCase(call, {
      fn: which, expect: useOpts === 'null' || randnEdge ? 'either' : valid ? 'ok' : 'error',
      check: (t) => {
        expectShape(t, s as number[], which === 'randint' ? 'int32' : 'float32', which);
        const v = t.dataSync();
        if (!randnEdge) for (let i = 0; i < v.length; i++) if (!within(v[i])) throw new Error(`${which}: value ${v[i]} at ${i} is outside the requested distribution's range`);
        if (v.length >= 64 && new Set(v).size < 4 && !(which === 'randn' && ((opts?.std as number) <= Math.abs((opts?.mean as number) ?? 0) * 2 ** -20)) && !(which === 'randint' && (hi as number) - (lo as number) < 4)) {
          throw new Error(`${which}: ${v.length} samples take only ${new Set(v).size} distinct values`);
        }
        if (isPlainObject(opts) && typeof opts.seed === 'number') {
          const again = call();
          const same = Array.from(again.dataSync()).every((x, i) => Object.is(x, v[i]));
          again.dispose();
          if (!same) throw new Error(`${which}: the same seed gave different values`);
        }
      },
    });
  }, 2);
});

describe('scopes', () => {
  const container = fc.constantFrom('tensor', 'array', 'object', 'deep', 'map', 'set', 'mapKey', 'promise-like', 'class', 'none');
  prop(['sg.tidy', 'sg.keep'], 'what tidy returns survives (Maps, Sets, deep objects included) or is refused clearly; everything else is freed', fc.record({
    container, nested: fc.boolean(), keepInside: fc.boolean(), extra: fc.integer({ min: 0, max: 3 }), depth: fc.integer({ min: 1, max: 8 }),
  }), async ({ container, nested, keepInside, extra, depth }) => {
    const before = stats();
    let made: sg.Tensor | null = null;
    let keptT: sg.Tensor | null = null;
    const build = () => {
      const t = sg.tensor([1, 2, 3]);
      made = t;
      for (let i = 0; i < extra; i++) sg.tensor([i]);
      if (keepInside) keptT = sg.keep(sg.tensor([7]));
      let deep: unknown = t;
      for (let i = 0; i < depth; i++) deep = { inner: deep };
      switch (container) {
        case 'tensor': return t;
        case 'array': return [1, [t]];
        case 'object': return { a: t, n: 1 };
        case 'deep': return deep;
        case 'map': return new Map([['t', t]]);
        case 'set': return new Set([t]);
        case 'mapKey': return new Map([[t, 1]]);
        case 'promise-like': return { then: 5, t };
        case 'class': return new (class Box { constructor(readonly t: sg.Tensor) {} })(t);
        default: return 42;
      }
    };
    let result: unknown;
    let err: unknown = null;
    try {
      result = nested ? sg.tidy(() => sg.tidy(build)) : sg.tidy(build);
    } catch (e) {
      err = e;
    }
    const m = made as sg.Tensor | null;
    try {
      if (err) {
        expectClearError(err, 'tidy');
        if (m && !m.disposed) throw new Error('tidy refused its result but left the tensor made inside alive');
      } else if (container !== 'none') {
        const reachable = container === 'mapKey' ? (result instanceof Map ? [...(result as Map<sg.Tensor, number>).keys()] : []) : tensorsIn(result, [], -10);
        if (m && reachable.includes(m) && m.disposed) throw new Error(`tidy returned a ${container} holding a tensor it disposed`);
        if (m && !m.disposed) expectClose(m.dataSync(), [1, 2, 3], 'returned tensor');
      }
    } finally {
      if (m && !m.disposed) m.dispose();
      (keptT as sg.Tensor | null)?.dispose();
    }
    const after = stats();
    if (after.tensors !== before.tensors || after.bytes !== before.bytes) throw new Error(`tidy (${container}) leaked ${after.tensors - before.tensors} tensors`);
    canary();
  }, 2);

  prop(['sg.keep', 'sg.tidy', 'sg.noGrad', 'sg.markModified'], 'non-tensor and non-function arguments are rejected clearly', fc.record({
    which: fc.constantFrom('keep', 'tidy', 'noGrad', 'markModified', 'tidyAsync'), arg: hostile, disposed: fc.boolean(),
  }), async ({ which, arg, disposed }) => {
    const d = sg.tensor([1]);
    if (disposed) d.dispose();
    const a = disposed && (which === 'keep' || which === 'markModified') ? d : arg;
    const valid = (which === 'tidy' || which === 'noGrad') && typeof a === 'function';
    await runCase(() => {
      if (which === 'tidyAsync') return sg.tidy((async () => 1) as any);
      return (sg as any)[which](a);
    }, { fn: which === 'tidyAsync' ? 'tidy' : which, expect: valid ? 'either' : 'error' });
    d.dispose();
  });
});

describe('default generator state', () => {
  const seedValue = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 2 ** 32 - 1) }, { weight: 2, arbitrary: hostile }, { weight: 1, arbitrary: fc.constantFrom(2 ** 32, -1, 1.5) });
  const stateArg = fc.oneof(
    { weight: 3, arbitrary: fc.record({ seed: seedValue, counter: fc.oneof(fc.nat(1000), fc.constantFrom(Number.MAX_SAFE_INTEGER), hostile) }) },
    { weight: 1, arbitrary: hostile },
  );
  const isSeed = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2 ** 32 - 1;
  prop(['sg.seed', 'sg.rngState', 'sg.setRngState'], 'seed/rngState/setRngState: a seed or a saved state replays the same unseeded draws; hostile seeds and states are clear errors that leave the state as it was', fc.record({
    which: fc.constantFrom('seed', 'setRngState'), n: seedValue, state: stateArg, draws: fc.integer({ min: 0, max: 3 }),
  }), async ({ which, n, state, draws }) => {
    // Each case starts from a seeded generator: an earlier case may have left it at its last stream.
    sg.seed(draws * 7919);
    const draw = () => { const t = sg.rand([5]); const v = Array.from(t.dataSync()); t.dispose(); return v; };
    for (let i = 0; i < draws; i++) draw();
    const saved = sg.rngState();
    if (!isSeed(saved.seed) || !Number.isInteger(saved.counter) || saved.counter < 0) throw new Error(`rngState() = ${JSON.stringify(saved)}`);
    const next = draw();
    sg.setRngState(saved);
    const again = draw();
    expectClose(again, next, 'rand after setRngState(rngState())', { signedZero: true });
    sg.setRngState(saved);
    const st = state as { seed?: unknown; counter?: unknown } | null;
    const ok = which === 'seed' ? isSeed(n) : st !== null && typeof st === 'object' && !Array.isArray(st) && isSeed(st.seed) && typeof st.counter === 'number' && Number.isInteger(st.counter) && st.counter >= 0 && st.counter <= Number.MAX_SAFE_INTEGER;
    await runCase(() => (which === 'seed' ? sg.seed(n as number) : sg.setRngState(state as sg.RngState)), {
      fn: which, expect: ok ? 'ok' : 'error', args: ok ? undefined : which === 'seed' ? ['n'] : ['state'],
      check: () => {
        const now = sg.rngState();
        const want = which === 'seed' ? { seed: n, counter: 0 } : { seed: st!.seed, counter: st!.counter };
        if (now.seed !== want.seed || now.counter !== want.counter) throw new Error(`${which}: rngState() is ${JSON.stringify(now)}, want ${JSON.stringify(want)}`);
        if (now.counter === Number.MAX_SAFE_INTEGER) {
          // The last stream: the counter cannot step exactly, so the next unseeded call is refused (not a repeat).
          let err: unknown = null;
          try { draw(); } catch (e) { err = e; }
          expectClearError(err, 'rand');
          const after = sg.rngState();
          if (after.counter !== now.counter || after.seed !== now.seed) throw new Error('a refused draw moved the generator');
          return;
        }
        // The same state always gives the same draws.
        const a = draw();
        sg.setRngState(now);
        expectClose(draw(), a, `${which}: replay`, { signedZero: true });
      },
    });
    if (!ok) {
      const now = sg.rngState();
      if (now.seed !== saved.seed || now.counter !== saved.counter) throw new Error(`rejected ${which} changed the generator state: ${JSON.stringify(saved)} -> ${JSON.stringify(now)}`);
      expectClose(draw(), next, `rand after a rejected ${which}`, { signedZero: true });
    }
  }, 0.5);
});

describe('Tensor methods', () => {
  // view/alive/raw* are host-internal functions of src/tensor/tensor.ts (viewOf, storageOf, rawF32, ...), not Tensor
  // methods, and attach is gone (saved tensors belong to the tape): the public Tensor's own methods are these.
  const methods = fc.constantFrom('dataSync', 'toArray', 'item', 'toString', 'dispose');
  prop(['sg.Tensor#disposed', 'sg.Tensor#offset', 'sg.Tensor#rank'], 'disposed/rank/offset: consistent on live tensors; offset of a disposed tensor is a clear error', fc.record({ spec: tensorOf(shape({ maxRank: 5 }), fc.constantFrom(...DTYPES)), disposed: fc.boolean() }), async ({ spec, disposed }) => {
    const t = make(spec);
    if (disposed) t.dispose();
    if (t.disposed !== disposed || t.rank !== spec.shape.length) throw new Error(`Tensor: disposed ${t.disposed}, rank ${t.rank} for [${spec.shape}]`);
    await runCase(() => t.offset, {
      fn: ['offset', 'disposed', 'Tensor'], expect: disposed ? 'error' : 'ok',
      check: (off) => { if (!Number.isInteger(off) || off <= 0 || off % 4 !== 0) throw new Error(`Tensor.offset ${off}`); },
    });
    free(t);
  }, 0.5);

  prop(['sg.Tensor', 'sg.Tensor#dataSync', 'sg.Tensor#toArray', 'sg.Tensor#item', 'sg.Tensor#toString', 'sg.Tensor#dispose'],
    'own methods on live and disposed tensors of every dtype', fc.record({
      spec: tensorOf(shape({ maxRank: 4 }), fc.constantFrom(...DTYPES)), method: methods, disposed: fc.boolean(),
    }), async ({ spec, method, disposed }) => {
      const outer = stats();
      const t = make(spec);
      for (const internal of ['view', 'alive', 'attach', 'rawView', 'rawF32', 'rawI32', 'rawBytes']) {
        if (typeof (t as any)[internal] === 'function') throw new Error(`Tensor#${internal} is internal and must not be on the public Tensor`);
      }
      if (disposed) t.dispose();
      const values = stored(spec.dtype, spec.data);
      const fnNames = [method, 'disposed', 'Tensor'];
      let expectKind: 'ok' | 'error' | 'either' = disposed && method !== 'dispose' && method !== 'toString' ? 'error' : 'ok';
      if (!disposed && method === 'item' && spec.data.length !== 1) expectKind = 'error';
      const state = disposed ? [] : [t];
      await runCase(() => (t as any)[method](), {
        fn: fnNames, expect: expectKind, frees: method === 'dispose', state: method === 'dispose' ? [] : state,
        check: (r: any) => {
          if (method === 'dataSync') expectClose(Array.from(r), values, 'dataSync', { signedZero: true });
          if (method === 'toArray') expectClose(spec.shape.length === 0 ? [r] : (r as unknown[]).flat(8) as number[], values, 'toArray', { signedZero: true });
          if (method === 'item') expectClose([r], values, 'item', { signedZero: true });
          if (method === 'toString' && typeof r !== 'string') throw new Error('toString returned a non-string');
          if (method === 'dispose' && !t.disposed) throw new Error('dispose left the tensor alive');
        },
      });
      free(t);
      const end = stats();
      if (end.tensors !== outer.tensors || end.bytes !== outer.bytes) throw new Error(`Tensor#${method} leaked ${end.tensors - outer.tensors} tensors`);
    }, 2);
});

describe('runtime', () => {
  prop(['sg.memoryStats', 'sg.info'], 'memoryStats counts every live tensor and its bytes; info describes the runtime', tensorOf(shape({ maxRank: 3, maxDim: 30, maxSize: 4000 }), fc.constantFrom(...DTYPES)), async (spec) => {
    const before = sg.memoryStats();
    const t = make(spec);
    const mid = sg.memoryStats();
    const bytes = spec.data.length * (spec.dtype === 'float32' || spec.dtype === 'int32' ? 4 : 1);
    try {
      if (mid.tensorsAlive !== before.tensorsAlive + 1) throw new Error('memoryStats: tensorsAlive did not count the new tensor');
      if (mid.bytesInUse < before.bytesInUse + bytes) throw new Error(`memoryStats: bytesInUse grew by ${mid.bytesInUse - before.bytesInUse}, less than the tensor's ${bytes} bytes`);
      const i = sg.info();
      if (i.simd !== true || typeof i.build !== 'string' || !(i.memoryBytes >= mid.bytesInUse) || i.memoryBytes !== mid.memoryBytes) throw new Error(`info() inconsistent: ${JSON.stringify(i)}`);
    } finally {
      t.dispose();
    }
    const after = sg.memoryStats();
    if (after.tensorsAlive !== before.tensorsAlive || after.bytesInUse !== before.bytesInUse) throw new Error('memoryStats: dispose did not return to the baseline');
  }, 0.5);

  prop(['sg.setThreads'], 'setThreads takes 1..64 threads (and a cost threshold >= 0) and every count computes the same bits; anything else is a clear error', fc.record({
    threads: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: hostile }),
    cost: fc.oneof(fc.constant(undefined), fc.constantFrom(0, 1, 2 ** 20), hostileOption),
    M: fc.integer({ min: 1, max: 40 }), N: fc.integer({ min: 1, max: 40 }), K: fc.integer({ min: 0, max: 40 }),
  }), async ({ threads, cost, M, N, K }) => {
    const okThreads = typeof threads === 'number' && Number.isInteger(threads) && threads >= 1 && threads <= 64;
    const okCost = cost === undefined || (typeof cost === 'number' && cost >= 0 && Number.isFinite(cost));
    const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7) % 13) / 8 - 0.75);
    const product = () => sg.tidy(() => sg.matmul(sg.tensor(ramp(M * K), [M, K]), sg.tensor(ramp(K * N).reverse(), [K, N])).dataSync());
    const expected = product();
    let err: unknown = null;
    try {
      const info = await sg.setThreads(threads as number, { minParallelCost: cost as number });
      if (info.threads !== threads || sg.info().threads !== threads) throw new Error(`setThreads(${String(threads)}) left ${info.threads} threads`);
    } catch (e) {
      err = e;
    }
    try {
      if (err) {
        if (okThreads && okCost) throw new Error(`setThreads rejected valid arguments: ${(err as Error).message}`);
        expectClearError(err, 'setThreads');
      } else if (!okThreads || !okCost) {
        throw new Error(`setThreads accepted threads ${String(threads)}, minParallelCost ${String(cost)}`);
      }
      const got = product();
      if (got.some((v, i) => !Object.is(v, expected[i]))) throw new Error(`matmul at ${sg.info().threads} threads differs from before setThreads`);
    } finally {
      await sg.setThreads(2, { minParallelCost: 2 ** 20 });
    }
  }, 0.5);

  // A fresh module graph gives an uninitialized runtime, so init's own checks run.
  const wasmBytes = readFileSync(new URL('../../dist/snapgrad.simd.wasm', import.meta.url));
  prop(['sg.init'], 'init on an uninitialized runtime: good bytes load, anything else is a clear error', fc.record({
    form: fc.constantFrom('bytes', 'truncated', 'garbage', 'hostileOpts', 'hostileWasm', 'badMemory', 'badModule'),
    cut: fc.integer({ min: 0, max: 64 }), arg: hostile,
  }), async ({ form, cut, arg }) => {
    vi.resetModules();
    const fresh = (await import('../../src/index.js')) as typeof sg;
    const opts: unknown =
      form === 'bytes' ? { wasm: wasmBytes } :
      form === 'truncated' ? { wasm: wasmBytes.subarray(0, cut) } :
      form === 'garbage' ? { wasm: Uint8Array.from([0, 0x61, 0x73, 0x6d, cut, 0, 0, 0, 1, 2, 3]) } :
      form === 'hostileOpts' ? arg :
      form === 'hostileWasm' ? { wasm: arg } :
      form === 'badMemory' ? { wasm: wasmBytes, initialMemoryBytes: arg } : { module: arg };
    // The options rule: a null bag or a null field (wasm, module, initialMemoryBytes) means the default.
    const okExpected = form === 'bytes' || ((form === 'hostileOpts' || form === 'hostileWasm') && arg == null) || (form === 'badMemory' && (arg == null || (typeof arg === 'number' && Number.isInteger(arg) && arg >= 0 && arg < 2 ** 31))) || (form === 'badModule' && arg == null);
    let err: unknown = null;
    try {
      await fresh.init(opts as sg.InitOptions);
    } catch (e) {
      err = e;
    }
    if (err) {
      if (okExpected) throw new Error(`init rejected valid options: ${(err as Error).message}`);
      expectClearError(err, 'init');
    } else {
      if (!okExpected && form !== 'badMemory' && form !== 'hostileOpts') throw new Error(`init accepted ${form}`);
      const a = fresh.tensor([[1, 2], [3, 4]]);
      const c = fresh.matmul(a, a);
      const got = Array.from(c.dataSync()).join();
      if (got !== '7,10,15,22') throw new Error(`a runtime loaded by init computes [${got}]`);
    }
  }, 0.5);
});
