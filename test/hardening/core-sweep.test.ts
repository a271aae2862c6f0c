// Sweep of the core API for issue 10's classes beyond the reported examples: every option bag and
// numeric option gets null/undefined/wrong types/NaN/±Infinity/huge/tiny/negative values. The oracle:
// a plain Error whose message starts with the public name, or a result whose values are all finite
// (inputs are finite); never a TypeError or a wasm trap, never a leak, and the runtime still computes.
import { describe, expect, test } from 'vitest';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

type T = InstanceType<typeof sg.Tensor>;

const BAGS: unknown[] = [undefined, null, 5, 'x', true, [], () => 1, Symbol('s')];
const VALUES: unknown[] = [undefined, null, 'x', true, [], {}, NaN, Infinity, -Infinity, 1e39, -1e39, 3e38, -1, 0, -0, 1e-46, 1e-40, 2 ** 31, 2 ** 53, 0.5, 1, 2, 7, 1n, Symbol('v')];

function tensorsOf(r: unknown): T[] {
  if (r instanceof sg.Tensor) return [r];
  if (r !== null && typeof r === 'object') return Object.values(r).filter((v): v is T => v instanceof sg.Tensor);
  return [];
}

/** Runs call; checks the oracle; disposes what it returned; checks nothing leaked. */
function probe(name: string, label: string, call: () => unknown, finite = true): 'ok' | 'error' {
  const before = sg.memoryStats();
  let outcome: 'ok' | 'error' = 'ok';
  try {
    const out = tensorsOf(call());
    for (const t of out) {
      if (finite && t.dtype === 'float32') {
        const bad = Array.from(t.dataSync()).findIndex((v) => !Number.isFinite(v));
        expect(bad, `${name} ${label}: non-finite output at ${bad}`).toBe(-1);
      }
      t.dispose();
    }
  } catch (err) {
    outcome = 'error';
    expect((err as Error).constructor, `${name} ${label}: ${String(err)}`).toBe(Error);
    expect((err as Error).message.startsWith(`${name}:`), `${name} ${label}: message "${(err as Error).message}"`).toBe(true);
  }
  const after = sg.memoryStats();
  expect({ b: after.bytesInUse, t: after.tensorsAlive }, `${name} ${label} leaked`).toEqual({ b: before.bytesInUse, t: before.tensorsAlive });
  return outcome;
}

function label(v: unknown): string {
  if (typeof v === 'symbol') return 'Symbol';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'fn';
  return JSON.stringify(v) ?? String(v);
}

interface Spec {
  name: string;
  fields: string[];
  /** Required fields and their good values (kept unless the field itself is probed). */
  base?: Record<string, unknown>;
  call: (opts: unknown) => unknown;
  finite?: boolean;
}

function sweep(specs: (env: Record<string, T>) => Spec[]): void {
  const env: Record<string, T> = {};
  const own = (k: string, t: T) => (env[k] = t);
  own('x', sg.tensor([[0.5, -1.25, 2], [0, 3, -0.75]]));
  own('w', sg.tensor([[1, 2], [-1, 0.5], [0.25, -2]]));
  own('labels', sg.tensor([2, 0], undefined, { dtype: 'int32' }));
  own('q', sg.tensor([[-3, 5, 127], [0, -128, 9]], undefined, { dtype: 'int8' }));
  own('qb', sg.tensor([[1, -2, 3], [4, 5, -6], [7, -8, 9], [0, 1, 2]], undefined, { dtype: 'int8' }));
  own('bits', sg.tidy(() => sg.packBits(sg.tensor([[1, -1, 1], [-1, -1, 1]]))));
  own('z', sg.tensor([[0.1, 0.2, 0.3], [1, 1, 1]]));
  own('codebook', sg.tensor([[0, 0, 0], [1, 1, 1], [-1, 0, 1]]));
  for (const s of specs(env)) {
    // Warm-up: caches derived from an input (packed weights, codebook norms) live with that input.
    try {
      for (const t of tensorsOf(s.call(s.base))) t.dispose();
    } catch {
      // Measured below.
    }
    for (const bag of BAGS) probe(s.name, `options=${label(bag)}`, () => s.call(bag), s.finite ?? true);
    for (const field of s.fields) {
      for (const v of VALUES) probe(s.name, `${field}=${label(v)}`, () => s.call({ ...s.base, [field]: v }), s.finite ?? true);
    }
  }
  for (const k of Object.keys(env)) env[k].dispose();
  // A runtime that still computes a known product.
  const y = sg.tidy(() => sg.matmul(sg.tensor([[1, 2, 3]]), sg.tensor([[4], [5], [6]])));
  expect(y.toArray()).toEqual([[32]]);
  y.dispose();
}

describe('option bags and numeric options of the core API', () => {
  test('ops', () => {
    sweep((e) => [
      { name: 'sum', fields: ['axis', 'keepDims'], call: (o) => sg.sum(e.x, o as any) },
      { name: 'mean', fields: ['axis', 'keepDims'], call: (o) => sg.mean(e.x, o as any) },
      { name: 'max', fields: ['axis', 'keepDims'], call: (o) => sg.max(e.x, o as any) },
      { name: 'argmax', fields: ['axis', 'keepDims'], call: (o) => sg.argmax(e.x, o as any) },
      { name: 'matmul', fields: ['transposeA', 'transposeB'], call: (o) => sg.matmul(e.x, e.w, o as any) },
      { name: 'tensor', fields: ['dtype', 'requiresGrad'], call: (o) => sg.tensor([1, 2], [2], o as any) },
      { name: 'full', fields: ['dtype', 'requiresGrad'], call: (o) => sg.full([2], 3, o as any) },
      { name: 'zeros', fields: ['dtype', 'requiresGrad'], call: (o) => sg.zeros([2], o as any) },
      { name: 'clip', fields: ['min'], call: (o: any) => sg.clip(e.x, o?.min ?? -1, 1) },
      { name: 'softmax', fields: ['axis'], call: (o: any) => sg.softmax(e.x, o?.axis) },
      { name: 'concat', fields: ['axis'], call: (o: any) => sg.concat([e.x, e.x], o?.axis) },
      { name: 'slice', fields: ['begin'], call: (o: any) => sg.slice(e.x, [0, o?.begin ?? 0]) },
      { name: 'reshape', fields: ['d'], call: (o: any) => sg.reshape(e.x, [o?.d ?? 6, -1]) },
      { name: 'transpose', fields: ['p'], call: (o: any) => sg.transpose(e.x, o?.p === undefined ? undefined : [o.p, 0]) },
      { name: 'cast', fields: ['dtype'], call: (o: any) => sg.cast(e.x, o?.dtype ?? 'int32') },
      { name: 'full', fields: ['value'], call: (o: any) => sg.full([2], o?.value ?? 0, { dtype: 'int8' }) },
    ]);
  });

  test('ste', () => {
    sweep((e) => [
      { name: 'ste.sign', fields: ['grad', 'clipValue', 'beta'], call: (o) => sg.ste.sign(e.x, o as any) },
      { name: 'ste.binarize', fields: ['grad', 'clipValue', 'beta'], call: (o) => sg.ste.binarize(e.x, o as any) },
      { name: 'ste.ternarize', fields: ['threshold', 'grad', 'clipValue'], call: (o) => sg.ste.ternarize(e.x, o as any) },
      { name: 'ste.quantize', fields: ['bits', 'scale', 'zeroPoint', 'signed'], base: { bits: 4, scale: 0.5 }, call: (o) => sg.ste.quantize(e.x, o as any) },
      { name: 'ste.dorefa', fields: ['bits', 'mode'], base: { bits: 2 }, call: (o) => sg.ste.dorefa(e.x, o as any) },
      { name: 'ste.dorefa', fields: ['bits'], base: { bits: 2, mode: 'weights' }, call: (o) => sg.ste.dorefa(e.x, { mode: 'weights', ...(o as any) }) },
      { name: 'ste.gumbelSoftmax', fields: ['tau', 'hard', 'seed'], call: (o) => sg.ste.gumbelSoftmax(e.x, o as any) },
      { name: 'ste.vq', fields: ['beta'], call: (o) => sg.ste.vq(e.z, e.codebook, o as any) },
    ]);
  });

  test('kernels', () => {
    sweep((e) => [
      { name: 'quantizeInt8', fields: ['scale', 'zeroPoint', 'dtype'], base: { scale: 0.1 }, call: (o) => sg.quantizeInt8(e.x, o as any) },
      { name: 'dequantizeInt8', fields: ['scale', 'zeroPoint'], base: { scale: 0.1 }, call: (o) => sg.dequantizeInt8(e.q, o as any) },
      { name: 'int8Scales', fields: ['perChannel'], call: (o) => sg.int8Scales(e.x, o as any) },
      { name: 'int8Matmul', fields: ['transposeB'], call: (o) => sg.int8Matmul(e.q, e.qb, { transposeB: true, ...(o as any) }), finite: false },
      { name: 'int8MatmulDequantize', fields: ['scaleA', 'scaleB', 'bias'], base: { scaleA: 0.1, scaleB: 0.2, transposeB: true }, call: (o) => sg.int8MatmulDequantize(e.q, e.qb, o as any) },
      { name: 'int8MatmulRequantize', fields: ['scaleA', 'scaleB', 'bias', 'scaleOut'], base: { scaleA: 0.1, scaleB: 0.2, scaleOut: 0.5, transposeB: true }, call: (o) => sg.int8MatmulRequantize(e.q, e.qb, o as any), finite: false },
      { name: 'binaryMatmulScaled', fields: ['scale', 'bias'], call: (o) => sg.binaryMatmulScaled(e.bits, e.bits, 3, o as any) },
      { name: 'binaryWeightsMatmul', fields: ['scale', 'bias'], call: (o) => sg.binaryWeightsMatmul(e.x, e.bits, o as any), finite: false },
      { name: 'binaryMatmul', fields: ['k'], call: (o: any) => sg.binaryMatmul(e.bits, e.bits, o?.k ?? 3), finite: false },
      { name: 'packedWords', fields: ['k'], call: (o: any) => { sg.packedWords(o?.k ?? 3); } },
      { name: 'gradcheck', fields: ['eps', 'atol', 'rtol'], call: (o) => sg.tidy(() => { const v = sg.tensor([0.5, -1], undefined, { requiresGrad: true }); sg.gradcheck((a) => sg.mul(a, a), [v], o as any); v.dispose(); }) },
    ]);
  });

  test('vqEmaUpdate options change nothing when rejected', () => {
    const z = sg.tensor([[1, 2], [3, 4]]);
    const idx = sg.tensor([0, 1], undefined, { dtype: 'int32' });
    for (const field of ['decay', 'epsilon']) {
      for (const v of VALUES) {
        const size = sg.tensor([1, 1]);
        const embed = sg.tensor([[1, 1], [2, 2]]);
        const code = sg.tensor([[1, 1], [2, 2]]);
        const r = probe('vqEmaUpdate', `${field}=${label(v)}`, () => sg.vqEmaUpdate(z, idx, size, embed, code, { decay: 0.5, epsilon: 1e-5, [field]: v } as any));
        if (r === 'error') {
          expect(size.toArray()).toEqual([1, 1]);
          expect(code.toArray()).toEqual([[1, 1], [2, 2]]);
        } else {
          expect(Array.from(code.dataSync()).every(Number.isFinite), `${field}=${label(v)}`).toBe(true);
        }
        for (const t of [size, embed, code]) t.dispose();
      }
    }
    for (const t of [z, idx]) t.dispose();
  });

  test('disposed tensors anywhere are named errors', () => {
    const gone = sg.tensor([[1, 2], [3, 4]]);
    gone.dispose();
    const live = sg.tensor([[1, 2], [3, 4]]);
    const calls: [string, () => unknown][] = [
      ['add', () => sg.add(live, gone)], ['matmul', () => sg.matmul(live, gone)], ['sum', () => sg.sum(gone)],
      ['reshape', () => sg.reshape(gone, [4])], ['concat', () => sg.concat([live, gone])], ['slice', () => sg.slice(gone, [0])],
      ['transpose', () => sg.transpose(gone)], ['gather', () => sg.gather(gone, gone)], ['cast', () => sg.cast(gone, 'int32')],
      ['mse', () => sg.mse(live, gone)], ['crossEntropy', () => sg.crossEntropy(gone, gone)], ['softmax', () => sg.softmax(gone)],
      ['ste.sign', () => sg.ste.sign(gone)], ['ste.quantize', () => sg.ste.quantize(gone, { bits: 4, scale: 1 })],
      ['ste.vq', () => sg.ste.vq(live, gone)], ['ste.argmaxOneHot', () => sg.ste.argmaxOneHot(gone)], ['ste.dorefa', () => sg.ste.dorefa(gone, { bits: 2 })],
      ['packBits', () => sg.packBits(gone)], ['vqNearest', () => sg.vqNearest(live, gone)], ['int8Scales', () => sg.int8Scales(gone)],
      ['stopGradient', () => sg.stopGradient(gone)], ['keep', () => sg.keep(gone)], ['markModified', () => sg.markModified(gone)],
      ['backward', () => sg.backward(gone)], ['dataSync', () => gone.dataSync()], ['item', () => gone.item()],
    ];
    for (const [name, f] of calls) expect(probe(name, 'disposed', f), name).toBe('error');
    live.dispose();
  });
});

describe('every differentiable core op leaves only its result, and nothing after backward and dispose', () => {
  function footprint(): { b: number; t: number } {
    const m = sg.memoryStats();
    return { b: m.bytesInUse, t: m.tensorsAlive };
  }

  test('forward without a tape, forward with a tape then dispose, forward + backward + dispose', () => {
    const x = sg.tensor([[0.5, -1.25, 2], [0.1, 3, -0.75]], undefined, { requiresGrad: true });
    const w = sg.tensor([[1, 2], [-1, 0.5], [0.25, -2]], undefined, { requiresGrad: true });
    const pos = sg.tensor([[0.5, 1.25, 2], [0.1, 3, 0.75]], undefined, { requiresGrad: true });
    const target = sg.tensor([[0, 1, 0], [1, 0, 1]]);
    const idx = sg.tensor([1, 0, 1], undefined, { dtype: 'int32' });
    const labels = sg.tensor([2, 0], undefined, { dtype: 'uint8' });
    const ops: [string, () => T][] = [
      ...(['neg', 'relu', 'exp', 'tanh', 'sigmoid', 'square', 'abs'] as const).map((n) => [n, () => (sg as any)[n](x)] as [string, () => T]),
      ['log', () => sg.log(pos)], ['sqrt', () => sg.sqrt(pos)],
      ['clip', () => sg.clip(x, -1, 1)], ['matmul', () => sg.matmul(x, w)], ['matmul tA', () => sg.matmul(w, x, { transposeA: true, transposeB: true })],
      ['sum axis', () => sg.sum(x, { axis: 1, keepDims: true })], ['mean', () => sg.mean(x, { axis: 0 })], ['max', () => sg.max(x)],
      ['reshape', () => sg.reshape(x, [3, 2])], ['transpose', () => sg.transpose(x)], ['slice', () => sg.slice(x, [0, 1], [2, 2])],
      ['concat', () => sg.concat([x, x], 1)], ['gather', () => sg.gather(w, idx)], ['softmax', () => sg.softmax(x)],
      ['logSoftmax', () => sg.logSoftmax(x)], ['crossEntropy uint8', () => sg.crossEntropy(x, labels)], ['mse', () => sg.mse(x, target)],
      ['sign', () => sg.sign(x)], ['round', () => sg.round(x)], ['floor', () => sg.floor(x)],
      ['ste.sign swish', () => sg.ste.sign(x, { grad: 'swish' })], ['ste.binarize clipped', () => sg.ste.binarize(x, { grad: 'clipped' })],
      ['ste.round', () => sg.ste.round(x)], ['ste.floor', () => sg.ste.floor(x)], ['ste.quantize', () => sg.ste.quantize(x, { bits: 3, scale: 0.5 })],
      ['ste.ternarize', () => sg.ste.ternarize(x, { threshold: 0.6 })], ['ste.dorefa', () => sg.ste.dorefa(x, { bits: 2, mode: 'weights' })],
      ['ste.argmaxOneHot', () => sg.ste.argmaxOneHot(x)], ['ste.gumbelSoftmax', () => sg.ste.gumbelSoftmax(x, { seed: 9, hard: true, tau: 0.5 })],
      ['ste.straightThrough', () => sg.ste.straightThrough(x, (v) => sg.round(v))],
      ['maximum scalar', () => sg.maximum(x, 0.5)], ['div scalar', () => sg.div(1, x)],
    ];
    for (const [name, f] of ops) {
      const start = footprint();
      sg.noGrad(() => f().dispose());
      expect(footprint(), `${name}: forward without tape`).toEqual(start);
      f().dispose();
      expect(footprint(), `${name}: forward with tape, disposed`).toEqual(start);
      const y = f();
      const m = sg.mul(y, y);
      const loss = sg.sum(m);
      loss.backward();
      for (const t of [loss, m, y]) t.dispose();
      for (const l of [x, w, pos]) {
        l.grad?.dispose();
        l.grad = null;
      }
      expect(footprint(), `${name}: forward + backward + dispose`).toEqual(start);
    }
    for (const t of [x, w, pos, target, idx, labels]) t.dispose();
  });

  test('failures inside a graph or a user callback leak nothing', () => {
    const x = sg.tensor([1, 2, 3], undefined, { requiresGrad: true });
    const start = footprint();
    // A hardFn that returns the wrong shape, a customGrad forward that returns int32 on the tape.
    expect(() => sg.ste.straightThrough(x, (v) => sg.reshape(sg.mul(v, 1), [3, 1]))).toThrow(/^ste\.straightThrough: hardFn must return a float32 tensor of x's shape/);
    const bad = sg.customGrad({ forward: ([v]) => sg.cast(v, 'int32'), backward: (dy) => [dy] });
    expect(() => bad(x)).toThrow(/^customGrad: forward output must be float32 \(gradients are float32\), got int32/);
    const savesNumber = sg.customGrad({ name: 'saver', forward: ([v], save) => { const t = sg.mul(v, 2); save(5 as any); return t; }, backward: (dy) => [dy] });
    expect(() => savesNumber(x)).toThrow(/^saver: save\(t\) must be a Tensor, got 5/);
    expect(footprint()).toEqual(start);
    // An intermediate disposed before backward: a backward error that says what happened, and no grad.
    const h = sg.mul(x, 2);
    const sq = sg.square(h);
    const y = sg.sum(sq);
    h.dispose();
    const before = footprint();
    expect(() => y.backward()).toThrow(/^backward: tensor #\d+ .*was disposed.*the graph still needs it/);
    expect(footprint()).toEqual(before);
    expect(x.grad).toBeNull();
    for (const t of [x, sq, y]) t.dispose();
  });

  test('tidy misuse: async fn, non-function, a throwing fn, nesting, returning a disposed tensor', () => {
    const start = footprint();
    expect(() => sg.tidy(async () => 1)).toThrow(/^tidy: fn must be synchronous/);
    expect(() => sg.tidy(5 as any)).toThrow(/^tidy: fn must be a function, got 5/);
    expect(() => sg.tidy(() => { sg.zeros([100]); throw new Error('inner'); })).toThrow('inner');
    const out = sg.tidy(() => {
      const a = sg.ones([2]);
      const inner = sg.tidy(() => ({ keep: sg.add(a, 1), drop: sg.zeros([3]).dispose() }));
      const gone = sg.zeros([1]);
      gone.dispose();
      return [inner.keep, gone];
    });
    expect(out[0].toArray()).toEqual([2, 2]);
    expect(out[1].disposed).toBe(true);
    out[0].dispose();
    expect(footprint()).toEqual(start);
  });
});

describe('more hostile inputs found by the sweep', () => {
  test('-0 as a dimension is 0 (reshape, slice, zeros): sizes and shapes never show -0', () => {
    const e = sg.zeros([0]);
    const r = sg.reshape(e, [-0]);
    expect(Object.is(r.size, 0) && Object.is(r.shape[0], 0)).toBe(true);
    const x = sg.zeros([2, 3]);
    const s = sg.slice(x, [-0, 1], [-0, 2]);
    expect(s.shape.every((d) => !Object.is(d, -0))).toBe(true);
    const z = sg.zeros([-0, 2]);
    expect(Object.is(z.shape[0], 0) && Object.is(z.size, 0)).toBe(true);
    for (const t of [e, r, x, s, z]) t.dispose();
  });

  test('a leaf whose .grad is itself, a string or the wrong shape: backward refuses before touching anything', () => {
    const x = sg.tensor([1, 2], undefined, { requiresGrad: true });
    for (const g of [() => x, () => sg.reshape(x, [2]), () => 'grad', () => sg.tensor([1, 2, 3])]) {
      const bad = g() as any;
      x.grad = bad;
      const m = sg.mul(x, x);
      const y = sg.sum(m);
      const before = sg.memoryStats();
      expect(() => y.backward()).toThrow(/^backward: the \.grad of leaf tensor #\d+ \(shape \[2\]\) must be null or a separate float32 tensor of that shape/);
      expect(sg.memoryStats().tensorsAlive).toBe(before.tensorsAlive);
      expect(x.disposed).toBe(false);
      expect(x.toArray()).toEqual([1, 2]);
      x.grad = null;
      if (bad instanceof sg.Tensor && bad !== x) bad.dispose();
      m.dispose();
      y.dispose();
    }
    x.dispose();
  });

  test('vqNearest and vqEmaUpdate reject ±Infinity instead of answering 0 or writing Infinity', () => {
    const z = sg.tensor([[Infinity, 0]]);
    const c = sg.tensor([[0, 0], [1, 1]]);
    const before = sg.memoryStats();
    expect(() => sg.vqNearest(z, c)).toThrow(/^vqNearest: z contains ±Infinity/);
    expect(() => sg.vqNearest(c, z)).toThrow(/^vqNearest: codebook contains ±Infinity/);
    const idx = sg.tensor([0], undefined, { dtype: 'int32' });
    const size = sg.tensor([1, 1]);
    const embed = sg.tensor([[0, 0], [1, 1]]);
    expect(() => sg.vqEmaUpdate(z, idx, size, embed, c, { decay: 0.5, epsilon: 1e-5 })).toThrow(/^vqEmaUpdate: z contains ±Infinity/);
    expect(c.toArray()).toEqual([[0, 0], [1, 1]]);
    expect(embed.toArray()).toEqual([[0, 0], [1, 1]]);
    expect(sg.memoryStats().tensorsAlive).toBe(before.tensorsAlive + 3);
    for (const t of [z, c, idx, size, embed]) t.dispose();
  });

  test('a tensor too large for the wasm memory is an out-of-memory Error, with nothing allocated', () => {
    const before = sg.memoryStats();
    expect(() => sg.zeros([2 ** 20, 2 ** 12])).toThrow(/^out of memory: a float32 tensor of shape \[1048576,4096\] needs 17179869184 bytes/);
    const a = sg.zeros([2 ** 16, 1]);
    const b = sg.zeros([1, 2 ** 16]);
    expect(() => sg.matmul(a, b)).toThrow(/^out of memory/);
    expect(sg.memoryStats().tensorsAlive).toBe(before.tensorsAlive + 2);
    a.dispose();
    b.dispose();
    expect(sg.memoryStats().bytesInUse).toBe(before.bytesInUse);
  });
});
