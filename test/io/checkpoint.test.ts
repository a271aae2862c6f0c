// Checkpoints: a resumed run continues bit for bit; a checkpoint loads in a
// fresh process; optimizer and schedule state dicts round-trip and reject bad
// states without changing anything.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as sg from '../../src/index.js';
import { useSnapgrad } from '../support/setup.js';

useSnapgrad();

const ROOT = new URL('../../', import.meta.url).pathname;
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'snapgrad-checkpoint-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const bytes = (t: sg.Tensor): Uint8Array => {
  const d = t.dataSync();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};

// 60 samples, 6 features, 3 classes: fixed by formula, not by the generator.
const SAMPLES = 60;
const X = Float32Array.from({ length: SAMPLES * 6 }, (_, i) => Math.fround(Math.sin(i * 0.7) + 0.3 * Math.cos(i * 1.3)));
const Y = Int32Array.from({ length: SAMPLES }, (_, i) => (i * 7) % 3);

interface Run {
  model: sg.nn.Module;
  optimizer: sg.optim.Adam;
  schedule: sg.optim.CosineLR;
  loader: sg.data.DataLoader<{ x: { data: Float32Array; shape: number[] }; y: Int32Array }>;
}

const TOTAL = 23;

function build(seed: number): Run {
  sg.seed(seed);
  // Dropout draws a new mask every step from its own stream, which the checkpoint must restore too.
  const model = new sg.nn.Sequential(new sg.nn.Linear(6, 16), new sg.nn.BatchNorm1d(16), new sg.nn.Dropout(0.25), new sg.nn.Binarize(), new sg.nn.BinaryLinear(16, 3));
  const optimizer = new sg.optim.Adam(model.parameters(), { lr: 0.05, weightDecay: 1e-3 });
  const schedule = new sg.optim.CosineLR(optimizer, TOTAL, 0.001);
  const loader = new sg.data.DataLoader({ x: { data: X, shape: [SAMPLES, 6] }, y: Y }, { batchSize: 8, shuffle: true, seed: 11 });
  return { model, optimizer, schedule, loader };
}

/**
 * Trains from global step `from` to `to`: the loader resumes at `epoch`, skipping the
 * first `skip` batches of it. `at(step, epoch, batchIndex)` runs after each step.
 */
function train(r: Run, from: number, to: number, epoch: number, skip: number, at: (step: number, epoch: number, batch: number) => void = () => {}): void {
  let step = from;
  r.loader.epoch = epoch;
  while (step < to) {
    const e = r.loader.epoch;
    let b = 0;
    for (const batch of r.loader) {
      b++;
      if (skip > 0) {
        skip--;
        continue;
      }
      sg.tidy(() => {
        const loss = sg.crossEntropy(r.model.call(batch.x), batch.y);
        r.optimizer.zeroGrad();
        loss.backward();
        r.optimizer.step();
      });
      r.schedule.step();
      step++;
      at(step, e, b);
      if (step >= to) break;
    }
  }
  r.optimizer.zeroGrad();
}

function dispose(r: Run): void {
  r.optimizer.dispose();
  r.model.dispose();
}

describe('resume', () => {
  test('a resumed Adam + CosineLR + shuffled DataLoader + Dropout run is bit-identical to an uninterrupted one', async () => {
    const before = sg.memoryStats().tensorsAlive;
    const K = 10; // mid-epoch: 8 batches of 8 (the last one 4) per epoch
    const a = build(1);
    let saved: Uint8Array | null = null;
    let lrAtK = NaN;
    let firstLayerGrad = 0;
    train(a, 0, TOTAL, 0, 0, (step, epoch, batch) => {
      firstLayerGrad += Array.from(a.model.parameters()[0].grad!.dataSync()).reduce((s, v) => s + Math.abs(v), 0);
      if (step !== K) return;
      saved = sg.io.saveCheckpoint({ model: a.model, optimizer: a.optimizer, schedule: a.schedule, extra: { epoch, batch, step } });
      lrAtK = a.optimizer.lr;
    });
    expect(saved).not.toBeNull();
    const rngA = sg.rngState();
    // The loss reaches the first layer through Dropout and the STEs: every layer trains.
    expect(firstLayerGrad).toBeGreaterThan(0);

    // A different seed: different initial weights, different dropout draws, until the load.
    const b = build(2);
    const loaded = await sg.io.loadCheckpoint(saved!, { model: b.model, optimizer: b.optimizer, schedule: b.schedule });
    const extra = loaded.extra as { epoch: number; batch: number; step: number };
    expect(extra).toEqual({ epoch: 1, batch: 2, step: K });
    expect(b.schedule.stateDict().t).toBe(K);
    expect(b.optimizer.lr).toBe(lrAtK);
    train(b, extra.step, TOTAL, extra.epoch, extra.batch);

    const sa = a.model.stateDict();
    const sb = b.model.stateDict();
    expect(Object.keys(sb)).toEqual(Object.keys(sa));
    expect(Object.keys(sa)).toContain('1.runningVar');
    for (const name of Object.keys(sa)) expect(bytes(sb[name]), name).toEqual(bytes(sa[name]));
    const oa = a.optimizer.stateDict();
    const ob = b.optimizer.stateDict();
    expect(Object.keys(ob.tensors)).toEqual(Object.keys(oa.tensors));
    for (const name of Object.keys(oa.tensors)) expect(bytes(ob.tensors[name]), name).toEqual(bytes(oa.tensors[name]));
    expect(ob.values).toEqual(oa.values);
    expect((oa.values.steps as number[]).every((t) => t === TOTAL)).toBe(true);
    expect(b.schedule.stateDict()).toEqual(a.schedule.stateDict());
    expect(b.optimizer.lr).toBe(a.optimizer.lr);
    // b drew as many dropout masks after the load as a did after the save.
    expect(sg.rngState()).toEqual(rngA);

    // A run that does not restore its optimizer (fresh Adam moments) diverges: the test can fail.
    const c = build(2);
    await sg.io.loadCheckpoint(saved!, { model: c.model });
    const cOpt = c.optimizer;
    expect(cOpt.stateDict().values.steps).toEqual(c.model.parameters().map(() => 0));
    train(c, extra.step, TOTAL, extra.epoch, extra.batch);
    const sc = c.model.stateDict();
    expect(Object.keys(sa).some((n) => bytes(sc[n]).some((v, i) => v !== bytes(sa[n])[i]))).toBe(true);

    dispose(a);
    dispose(b);
    dispose(c);
    expect(sg.memoryStats().tensorsAlive).toBe(before);
  });

  test('the RNG state travels with the checkpoint (and rng: false leaves it out)', async () => {
    const model = new sg.nn.Linear(2, 2);
    sg.seed(5);
    sg.randn([3]).dispose();
    const state = sg.rngState();
    const file = sg.io.saveCheckpoint({ model });
    const next = sg.randn([4]);
    sg.seed(77);
    const r = await sg.io.loadCheckpoint(file, { model });
    expect(r.rng).toEqual(state);
    expect(sg.rngState()).toEqual(state);
    const again = sg.randn([4]);
    expect(bytes(again)).toEqual(bytes(next));
    const noRng = sg.io.saveCheckpoint({ model, rng: false });
    sg.seed(9);
    expect((await sg.io.loadCheckpoint(noRng, { model })).rng).toBeUndefined();
    expect(sg.rngState()).toEqual({ seed: 9, counter: 0 });
    next.dispose();
    again.dispose();
    model.dispose();
  });
});

describe('optimizer and schedule state dicts', () => {
  const param = (vals: number[]) => sg.tensor(vals, undefined, { requiresGrad: true });

  test('SGD momentum, AdamW step counts (per parameter), Bop, Chain and parameter groups round-trip', () => {
    const p = param([1, -2, 3]);
    const q = param([0.5, -0.25]);
    const w = param([0.3, -0.7, 0.1, 0.9]);
    const make = () => ({
      adamw: new sg.optim.AdamW([{ params: [p] }, { params: [q], options: { lr: 0.01, weightDecay: 0 } }], { lr: 0.1 }),
      sgd: new sg.optim.SGD([p, q], { lr: 0.1, momentum: 0.9 }),
      bop: new sg.optim.Bop([w], { gamma: 0.5, threshold: 0 }),
    });
    const a = make();
    const chain = new sg.optim.Chain(a.bop, a.adamw);
    // q gets no gradient on the first step: AdamW counts 2 steps for p, 1 for q.
    p.grad = sg.tensor([0.1, 0.2, -0.3]);
    w.grad = sg.tensor([1, 1, -1, -1]);
    chain.step();
    a.sgd.step();
    chain.zeroGrad();
    p.grad = sg.tensor([0.3, -0.1, 0.2]);
    q.grad = sg.tensor([0.5, -0.5]);
    w.grad = sg.tensor([-1, 1, -1, 1]);
    chain.step();
    a.sgd.step();
    a.adamw.lr = 0.05;
    const st = chain.stateDict();
    expect(st.kind).toBe('Chain');
    expect(Object.keys(st.tensors).sort()).toEqual(['0.0.m', '1.0.m', '1.0.v', '1.1.m', '1.1.v']);
    const adamValues = (st.values.optimizers as { kind: string; values: Record<string, unknown> }[])[1];
    expect(adamValues.kind).toBe('AdamW');
    expect(adamValues.values.steps).toEqual([2, 1]);
    expect(adamValues.values.lr).toBe(0.05);
    // Groups keep their ratio: 0.01 / 0.1 of the new lr.
    expect((adamValues.values.groups as { options: { lr: number } }[])[1].options.lr).toBeCloseTo(0.005, 15);
    const json = JSON.parse(JSON.stringify(st.values));
    expect(json).toEqual(st.values);

    const b = make();
    const chainB = new sg.optim.Chain(b.bop, b.adamw);
    chainB.loadStateDict({ kind: 'Chain', tensors: st.tensors, values: json });
    const stB = chainB.stateDict();
    expect(stB.values).toEqual(st.values);
    for (const k of Object.keys(st.tensors)) expect(bytes(stB.tensors[k])).toEqual(bytes(st.tensors[k]));
    expect(b.adamw.lr).toBe(0.05);
    expect(b.bop.lastFlips).toBe(a.bop.lastFlips);
    b.sgd.loadStateDict(a.sgd.stateDict());
    expect(bytes(b.sgd.stateDict().tensors['0.momentum'])).toEqual(bytes(a.sgd.stateDict().tensors['0.momentum']));
    // Momentum 0.9 after gradients g1, g2: v = 0.9 g1 + g2.
    expect(Array.from(b.sgd.stateDict().tensors['0.momentum'].dataSync())).toEqual([0.1, 0.2, -0.3].map((g1, i) => Math.fround(Math.fround(Math.fround(0.9) * Math.fround(g1)) + Math.fround([0.3, -0.1, 0.2][i]))));
    chain.zeroGrad();
    chainB.dispose();
    chain.dispose();
    a.sgd.dispose();
    b.sgd.dispose();
    for (const t of [p, q, w]) t.dispose();
  });

  test('a bad state is a clear error naming the class and the entry, and changes nothing', () => {
    const p = param([1, -2, 3]);
    const q = param([4]);
    const adam = new sg.optim.Adam([p, q], { lr: 0.1 });
    p.grad = sg.tensor([1, 1, 1]);
    q.grad = sg.tensor([1]);
    adam.step();
    adam.zeroGrad();
    const good = adam.stateDict();
    const before = { values: JSON.parse(JSON.stringify(good.values)), tensors: Object.fromEntries(Object.entries(good.tensors).map(([k, t]) => [k, bytes(t).slice()])) };
    const other = new sg.optim.Adam([p, q], { lr: 0.1 });
    const otherBefore = JSON.stringify(other.stateDict().values);
    const wrongShape = sg.tensor([1, 2]);
    const nan = sg.tensor([1, NaN, 3]);
    const negative = sg.tensor([1, -1, 3]);
    const int = sg.tensor([1, 2, 3], undefined, { dtype: 'int32' });
    const cases: [unknown, RegExp][] = [
      [null, /^Adam\.loadStateDict: state must be a plain object/],
      [{ ...good, kind: 'SGD' }, /^Adam\.loadStateDict: state is the state of SGD, not of Adam/],
      [{ ...good, kind: 'AdamW' }, /state is the state of AdamW, not of Adam/],
      [{ ...good, tensors: { ...good.tensors, '0.m': wrongShape } }, /^Adam\.loadStateDict: state\.tensors\["0\.m"\] is float32 \[2\], expected float32 \[3\]/],
      [{ ...good, tensors: { ...good.tensors, '0.m': int } }, /state\.tensors\["0\.m"\] is int32 \[3\]/],
      [{ ...good, tensors: { ...good.tensors, '0.m': nan } }, /state\.tensors\["0\.m"\] holds NaN at index 1; optimizer state must be finite/],
      [{ ...good, tensors: { ...good.tensors, '0.v': negative } }, /state\.tensors\["0\.v"\] holds -1 at index 1; the second moment v must be >= 0/],
      [{ ...good, tensors: { '0.m': good.tensors['0.m'] } }, /state\.tensors has the wrong entries: missing "0\.v", "1\.m", "1\.v"/],
      [{ ...good, values: { ...good.values, steps: [1] } }, /state\.values\.steps has 1 entries, expected 2/],
      [{ ...good, values: { ...good.values, steps: [1, -1] } }, /state\.values\.steps\[1\] must be >= 0/],
      [{ ...good, values: { ...good.values, lr: Infinity } }, /state\.values\.lr must be finite/],
      [{ ...good, values: { ...good.values, params: [{ shape: [4], group: 0 }, { shape: [1], group: 0 }] } }, /state\.values\.params\[0\]\.shape is \[4\], but parameter 0 has shape \[3\]/],
      [{ ...good, values: { ...good.values, groups: [{ baseLr: 0.1, options: { ...(good.values.groups as any)[0].options, beta1: 2 } }] } }, /state\.values\.groups\[0\]\.options: Adam: beta1 must be <= /],
      [{ ...good, values: { ...good.values, extra: 1 } }, /state\.values has the wrong entries: unexpected "extra"/],
    ];
    // The last tensor is valid and would be written first if checks were interleaved with writes.
    for (const [bad, re] of cases) {
      expect(() => other.loadStateDict(bad as sg.optim.OptimizerState)).toThrow(re);
      expect(JSON.stringify(other.stateDict().values)).toBe(otherBefore);
      for (const t of Object.values(other.stateDict().tensors)) expect(Array.from(t.dataSync()).every((v) => v === 0)).toBe(true);
    }
    expect(JSON.parse(JSON.stringify(adam.stateDict().values))).toEqual(before.values);
    for (const [k, t] of Object.entries(adam.stateDict().tensors)) expect(bytes(t)).toEqual(before.tensors[k]);

    const sched = new sg.optim.StepLR(other, 3, 0.5);
    for (let i = 0; i < 4; i++) sched.step();
    const s = sched.stateDict();
    expect(s).toEqual({ kind: 'StepLR', t: 4, baseLr: 0.1, stepSize: 3, gamma: 0.5 });
    expect(other.lr).toBe(0.1 * 0.5);
    const fresh = new sg.optim.StepLR(new sg.optim.SGD([param([1])], { lr: 1 }), 1, 0.1);
    for (const [bad, re] of [
      [{ ...s, kind: 'CosineLR' }, /^StepLR\.loadStateDict: state is the state of CosineLR, not of StepLR/],
      [{ ...s, t: -1 }, /^StepLR\.loadStateDict: state\.t must be >= 0/],
      [{ ...s, gamma: 2 }, /^StepLR\.loadStateDict: state\.gamma must be <= 1/],
      [{ ...s, stepSize: 0.5 }, /state\.stepSize must be an integer/],
      [{ kind: 'StepLR', t: 1 }, /state has the wrong entries: missing "baseLr", "stepSize", "gamma"/],
    ] as [unknown, RegExp][]) {
      expect(() => fresh.loadStateDict(bad as sg.optim.ScheduleState)).toThrow(re);
      expect(fresh.stateDict()).toEqual({ kind: 'StepLR', t: 0, baseLr: 1, stepSize: 1, gamma: 0.1 });
    }
    fresh.loadStateDict(s);
    expect(fresh.stateDict()).toEqual(s);
    expect(fresh.step()).toBe(0.1 * 0.5 ** Math.floor(5 / 3));

    for (const t of [wrongShape, nan, negative, int, p, q]) t.dispose();
    adam.dispose();
    other.dispose();
  });
});

describe('files', () => {
  test('a hostile or mismatched checkpoint file is a clear error and changes nothing', async () => {
    sg.seed(12345);
    const model = new sg.nn.Sequential(new sg.nn.Linear(3, 2), new sg.nn.BatchNorm1d(2));
    const opt = new sg.optim.Adam(model.parameters(), { lr: 0.01 });
    const file = sg.io.saveCheckpoint({ model, optimizer: opt, extra: { note: 'x' } });
    const other = new sg.nn.Sequential(new sg.nn.Linear(3, 4), new sg.nn.BatchNorm1d(4));
    const otherOpt = new sg.optim.Adam(other.parameters(), { lr: 0.01 });
    const snap = () => [...Object.values(other.stateDict()), ...Object.values(otherOpt.stateDict().tensors)].map((t) => Array.from(bytes(t)));
    const before = snap();
    const rng = sg.rngState();
    await expect(sg.io.loadCheckpoint(file, { model: other, optimizer: otherOpt })).rejects.toThrow(/^loadCheckpoint: the optimizer state of bytes\.values\.params\[0\]\.shape is \[\d, ?\d\], but parameter 0 has shape \[\d,\d\]/);
    await expect(sg.io.loadCheckpoint(file, { model: other })).rejects.toThrow(/^loadCheckpoint: the model state in bytes does not fit the model: loadStateDict: state\["0\.(weight|bias)"\] is float32 \[[\d,]+\], expected float32 \[[\d,]+\]/);
    await expect(sg.io.loadCheckpoint(sg.io.saveSafetensors(model.stateDict()), { model })).rejects.toThrow(/^loadCheckpoint: bytes is not a usable snapgrad checkpoint: it has no "snapgrad\.checkpoint" metadata/);
    await expect(sg.io.loadCheckpoint(file.subarray(0, file.length - 1), { model })).rejects.toThrow(/^loadCheckpoint: parseSafetensors: bytes is not a valid safetensors file/);
    await expect(sg.io.loadCheckpoint(sg.io.saveCheckpoint({ model }), { model, optimizer: opt })).rejects.toThrow(/^loadCheckpoint: bytes holds no optimizer state; pass no optimizer/);
    await expect(sg.io.loadCheckpoint(file, { model, schedule: {} as sg.optim.LRSchedule })).rejects.toThrow(/^loadCheckpoint: options\.schedule must be an LR schedule/);
    expect(() => sg.io.saveCheckpoint({ model, extra: { f: () => 1 } as never })).toThrow(/^saveCheckpoint: options\.extra\["f"\] must be JSON/);
    expect(() => sg.io.saveCheckpoint({ model, extra: NaN })).toThrow(/^saveCheckpoint: options\.extra is NaN; JSON holds finite numbers only/);
    // A tampered rng entry (a valid file otherwise): rejected before the model is written.
    const headerEnd = 8 + new DataView(file.buffer, file.byteOffset).getUint32(0, true);
    const header = new TextDecoder().decode(file.subarray(8, headerEnd)).replace(/"snapgrad\.rng":"\{\\"seed\\":(\d+)/, (_m, d) => `"snapgrad.rng":"{\\"seed\\":-${d.slice(1)}`);
    const tampered = file.slice();
    tampered.set(new TextEncoder().encode(header), 8);
    expect(tampered).not.toEqual(file);
    await expect(sg.io.loadCheckpoint(tampered, { model: other })).rejects.toThrow(/loadCheckpoint: bytes is not a usable snapgrad checkpoint: its "snapgrad\.rng" seed -?\d+ is not an integer/);
    expect(snap()).toEqual(before);
    expect(sg.rngState()).toEqual(rng);
    // From a path, and its extra values.
    const path = join(dir, 'ok.safetensors');
    writeFileSync(path, file);
    expect((await sg.io.loadCheckpoint(path, { model, optimizer: opt })).extra).toEqual({ note: 'x' });
    for (const m of [model, other]) m.dispose();
    opt.dispose();
    otherOpt.dispose();
  });

  test('a custom Module saved with saveCheckpoint predicts identically in a fresh process', () => {
    execFileSync(process.execPath, [join(ROOT, 'test/support/ensure-build.mjs')], { stdio: 'inherit' });
    // The same class here (from src/) and in the fresh process (from dist/), as plain JavaScript source.
    const NET = `return class Net extends nn.Module {
      constructor() {
        super();
        this.a = this.registerModule('a', new nn.Linear(5, 7));
        this.b = this.registerModule('b', new nn.BatchNorm1d(7));
        this.c = this.registerModule('c', new nn.BinaryLinear(7, 3));
      }
      forward(x) {
        const h = this.b.call(this.a.call(x));
        return ops.add(this.c.call(ops.relu(h)), this.c.call(h));
      }
    };`;
    const define = new Function('nn', 'ops', NET) as (nn: typeof sg.nn, ops: typeof sg) => new () => sg.nn.Module;
    const Net = define(sg.nn, sg);
    sg.seed(3);
    const net = new Net();
    const opt = new sg.optim.SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
    const x = sg.tensor(Array.from({ length: 4 * 5 }, (_, i) => Math.sin(i)), [4, 5]);
    for (let i = 0; i < 3; i++) {
      sg.tidy(() => {
        opt.zeroGrad();
        sg.mean(sg.square(net.call(x))).backward();
        opt.step();
      });
    }
    opt.zeroGrad();
    net.eval();
    const want = sg.tidy(() => Array.from(net.call(x).dataSync()));
    const path = join(dir, 'net.safetensors');
    writeFileSync(path, sg.io.saveCheckpoint({ model: net, optimizer: opt, extra: { classes: 3 } }));
    const script = `
      import * as sg from ${JSON.stringify(join(ROOT, 'dist/snapgrad.js'))};
      await sg.init();
      const Net = new Function('nn', 'ops', ${JSON.stringify(NET)})(sg.nn, sg);
      const net = new Net();
      const { extra } = await sg.io.loadCheckpoint(process.argv[1], { model: net });
      net.eval();
      const x = sg.tensor(Array.from({ length: 4 * 5 }, (_, i) => Math.sin(i)), [4, 5]);
      console.log(JSON.stringify({ extra, y: Array.from(net.call(x).dataSync()) }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script, path], { encoding: 'utf8' }));
    expect(out.extra).toEqual({ classes: 3 });
    expect(out.y).toEqual(want);
    // The fresh process did not just reproduce an untrained model: a new Net predicts differently.
    const untrained = new Net();
    untrained.eval();
    const y0 = sg.tidy(() => Array.from(untrained.call(x).dataSync()));
    expect(y0).not.toEqual(want);
    for (const t of [untrained, net]) t.dispose();
    opt.dispose();
    x.dispose();
  });
});
