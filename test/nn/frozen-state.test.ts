import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const { nn } = sg;

const SHIPPED = readFileSync(new URL('../../examples/cloudflare-worker/model.safetensors', import.meta.url));

function pixels(rows: number, cols: number, seed: number): Tensor {
  return sg.tensor(Float32Array.from(seededArray(rows * cols, seed, 0, 256), Math.floor), [rows, cols]);
}

type State = { tensors: Record<string, Tensor>; metadata: Record<string, string> };

/** Freezes a model, edits its state, and returns the fromState error message (the edit must be rejected). */
function rejection(model: any, freezeOptions: object, edit: (s: State) => void): string {
  return sg.tidy(() => {
    const frozen = sg.freeze(model, freezeOptions);
    const st = frozen.state();
    const state: State = { tensors: { ...st.tensors }, metadata: { ...st.metadata } };
    edit(state);
    let message = '';
    try {
      sg.FrozenModel.fromState(state.tensors, state.metadata).dispose();
    } catch (err) {
      message = (err as Error).message;
    }
    frozen.dispose();
    return message;
  });
}

function editArch(s: State, f: (arch: any[]) => void): void {
  const arch = JSON.parse(s.metadata.architecture);
  f(arch);
  s.metadata.architecture = JSON.stringify(arch);
}

describe('FrozenModel.fromState validates before anything runs', () => {
  test('wrong-sized tensors, dtypes, missing and extra tensors, bad configs and graph references are load-time errors naming the tensor', () => {
    const bnn = new nn.Sequential(new nn.BinaryLinear(10, 6, { binarizeInputs: false, seed: 1 }), new nn.BatchNorm1d(6), new nn.Binarize(), new nn.BinaryLinear(6, 3, { seed: 2 }), new nn.BatchNorm1d(3));
    const opts = { integerInputMax: 255 };
    expect(rejection(bnn, opts, (s) => (s.tensors['0.threshold'] = sg.tensor([0.5])))).toBe('FrozenModel.fromState: stage 0 ("binary-dense"): tensor "threshold" must be float32 [6], got float32 [1]');
    expect(rejection(bnn, opts, (s) => delete s.tensors['1.bnVar'])).toBe('FrozenModel.fromState: stage 1 ("binary-dense"): tensor "bnVar" is missing (expected float32 [3])');
    expect(rejection(bnn, opts, (s) => (s.tensors['1.extra'] = sg.zeros([3])))).toMatch(/^FrozenModel\.fromState: stage 1 \("binary-dense"\): unexpected tensor "extra"/);
    expect(rejection(bnn, opts, (s) => (s.tensors['5.weightBits'] = sg.zeros([3])))).toMatch(/^FrozenModel\.fromState: unexpected tensor "5\.weightBits" \(names are "<stage>\.<tensor>" for stages 0\.\.1\)/);
    expect(rejection(bnn, opts, (s) => (s.tensors['0.direction'] = sg.tensor([1, -1, 1, 0, 1, 1], [6], { dtype: 'int32' })))).toBe('FrozenModel.fromState: stage 0 ("binary-dense"): tensor "direction" must hold only 1 or -1');
    expect(rejection(bnn, opts, (s) => editArch(s, (a) => (a[0].config.outFeatures = 7)))).toMatch(/tensor "weightBits" must be int32 \[7,4\], got int32 \[6,4\]/);
    expect(rejection(bnn, opts, (s) => editArch(s, (a) => (a[1].config.bnEps = -1)))).toMatch(/stage 1 \("binary-dense"\): config.bnEps must be a finite positive number or null, got -1/);
    expect(rejection(bnn, opts, (s) => editArch(s, (a) => (a[1].inputs = [2])))).toMatch(/^FrozenModel\.fromState: stage 1 must read 1 value, each the input \(0\) or an earlier stage's output \(1\.\.1\), got \[2\]/);
    expect(rejection(bnn, opts, (s) => editArch(s, (a) => (a[1].config.inFeatures = 5)))).toMatch(/^FrozenModel\.fromState: stage 1 \("binary-dense"\): /);
    expect(rejection(bnn, opts, (s) => editArch(s, (a) => a.push({ type: 'eval', config: {}, inputs: [2] })))).toMatch(/stage 2 \("eval"\): unknown stage type "eval"/);
    expect(rejection(bnn, opts, (s) => editArch(s, (a) => a.push({ type: 'op', config: { op: 'constructor', inputs: 1, args: [{ input: 0 }], constants: {} }, inputs: [2] })))).toMatch(/stage 2 \("op"\): config.op must be one of add, sub/);
    expect(rejection(bnn, opts, (s) => Object.defineProperty(s.tensors, '0.__proto__', { value: sg.zeros([6]), enumerable: true }))).toMatch(/stage 0 \("binary-dense"\): unexpected tensor "__proto__"/);
    expect(rejection(bnn, opts, (s) => (s.metadata.version = '7'))).toBe('FrozenModel.fromState: metadata.version must be "1" or "2", got "7"');
    // a float batch norm: a running mean of size 1 for 3 features
    const float = new nn.Sequential(new nn.Linear(3, 3, { seed: 3 }), new nn.BatchNorm1d(3));
    expect(rejection(float, {}, (s) => (s.tensors['1.runningMean'] = sg.tensor([0])))).toBe('FrozenModel.fromState: stage 1 ("batchnorm"): tensor "runningMean" must be float32 [3], got float32 [1]');
    expect(rejection(float, {}, (s) => (s.tensors['0.weight'] = sg.zeros([3, 4])))).toBe('FrozenModel.fromState: stage 0 ("linear"): tensor "weight" must be float32 [3,3], got float32 [3,4]');
    // consistent tensors, but a graph whose widths disagree
    expect(rejection(float, {}, (s) => {
      for (const n of ['runningMean', 'runningVar', 'weight', 'bias']) s.tensors[`1.${n}`] = sg.ones([4]);
      editArch(s, (a) => (a[1].config.features = 4));
    })).toBe('FrozenModel.fromState: stage 1 (batchnorm) takes rows of 4 features, but value 1 has 3');
    // int8 weights: a float32 tensor is not read as int8
    const quant = new nn.Sequential(new nn.QuantLinear(4, 2, { seed: 4 }));
    expect(rejection(quant, {}, (s) => (s.tensors['0.weight'] = sg.zeros([2, 4])))).toBe('FrozenModel.fromState: stage 0 ("int8-dense"): tensor "weight" must be int8 [2,4], got float32 [2,4]');
    expect(rejection(quant, {}, (s) => editArch(s, (a) => (a[0].config.weightBits = 9)))).toMatch(/config.weightBits must be an integer in \[2, 8\], got 9/);
    bnn.dispose();
    float.dispose();
    quant.dispose();
  });

  test('a rejected state leaves the caller\'s tensors alive and unkept; predict rejects inputs of the wrong width or dtype', () => {
    const model = new nn.Sequential(new nn.BinaryLinear(10, 6, { binarizeInputs: false, seed: 1 }), new nn.BatchNorm1d(6));
    const frozen = sg.freeze(model);
    sg.tidy(() => {
      const { tensors, metadata } = sg.io.parseSafetensors(sg.io.saveSafetensors(frozen.state().tensors, frozen.state().metadata));
      delete tensors['0.bnMean'];
      expect(() => sg.FrozenModel.fromState(tensors, metadata)).toThrow(/tensors "bnMean" and "bnVar"|tensor "bnMean" is missing/);
      for (const t of Object.values(tensors)) expect(t.kept).toBe(false);
    });
    sg.tidy(() => {
      expect(() => frozen.predict(pixels(2, 9, 1))).toThrow('FrozenModel.predict: stage 0 (binary-dense) takes [batch, 10] inputs, got [2,9] (x has the wrong number of features)');
      expect(() => frozen.predict(sg.zeros([2, 10], { dtype: 'int32' }))).toThrow(/^FrozenModel\.predict: x must be float32 or uint8, got int32/);
      expect(() => frozen.predict(sg.zeros([10]))).toThrow(/^FrozenModel\.predict: stage 0 \(binary-dense\) takes \[batch, 10\] inputs, got \[10\]/);
    });
    frozen.dispose();
    model.dispose();
  });
});

describe('the shipped worker model under 80+ deterministic mutations', () => {
  test('each mutation is rejected at load time or predicts exactly as the original', () => {
    const x = () => pixels(8, 784, 5);
    const original = sg.tidy(() => {
      const st = sg.io.parseSafetensors(SHIPPED);
      const m = sg.FrozenModel.fromState(st.tensors, st.metadata);
      const out = m.predict(x()).toArray();
      m.dispose();
      return out;
    });
    expect(original.length).toBe(8);
    type Mutation = { name: string; bytes?: () => Uint8Array; edit?: (s: State) => void };
    const mutations: Mutation[] = [];
    const names = Object.keys(sg.tidy(() => {
      const st = sg.io.parseSafetensors(SHIPPED);
      return Object.fromEntries(Object.keys(st.tensors).map((k) => [k, 0]));
    }));
    expect(names.length).toBe(11);
    const redtype = (t: Tensor, dtype: 'float32' | 'int32' | 'int8'): Tensor => {
      const d = Array.from(t.dataSync());
      if (dtype === 'float32') return sg.tensor(Float32Array.from(d), [...t.shape]);
      if (dtype === 'int32') return sg.tensor(Int32Array.from(d), [...t.shape], { dtype: 'int32' });
      return sg.tensor(Int8Array.from(d), [...t.shape], { dtype: 'int8' });
    };
    for (const n of names) {
      mutations.push({ name: `remove ${n}`, edit: (s) => delete s.tensors[n] });
      mutations.push({ name: `truncate ${n}`, edit: (s) => (s.tensors[n] = sg.tensor(Array.from(s.tensors[n].dataSync()).slice(0, Math.max(1, s.tensors[n].size >> 1)), undefined, { dtype: s.tensors[n].dtype })) });
      mutations.push({ name: `one value ${n}`, edit: (s) => (s.tensors[n] = sg.tensor([s.tensors[n].dataSync()[0]], [1], { dtype: s.tensors[n].dtype })) });
      for (const dt of ['float32', 'int32', 'int8'] as const) {
        mutations.push({ name: `${n} as ${dt}`, edit: (s) => { if (s.tensors[n].dtype !== dt) s.tensors[n] = redtype(s.tensors[n], dt); else delete s.tensors[n]; } });
      }
      mutations.push({ name: `reshape ${n}`, edit: (s) => (s.tensors[n] = s.tensors[n].reshape(s.tensors[n].rank === 1 ? [1, -1] : [-1])) });
      mutations.push({ name: `move ${n} to the next stage`, edit: (s) => { const t = s.tensors[n]; delete s.tensors[n]; s.tensors[`${(Number(n[0]) + 1) % 3}.${n.slice(2)}`] = t; } });
    }
    // swaps between tensors of different shape or dtype (same-signature swaps make another valid model)
    let swaps = 0;
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) {
        const [a, b] = [names[i], names[j]];
        if ((i * 7 + j) % 3 !== 0) continue;
        swaps++;
        mutations.push({
          name: `swap ${a} ${b}`,
          edit: (s) => {
            const [ta, tb] = [s.tensors[a], s.tensors[b]];
            if (ta.dtype === tb.dtype && ta.shape.join() === tb.shape.join()) { delete s.tensors[a]; return; }
            s.tensors[a] = tb;
            s.tensors[b] = ta;
          },
        });
      }
    }
    expect(swaps).toBeGreaterThan(8);
    // values that no trained model has
    mutations.push({ name: 'direction 0', edit: (s) => { const d = s.tensors['0.direction']; s.tensors['0.direction'] = sg.tensor(Int32Array.from(d.dataSync(), (v, i) => (i === 5 ? 0 : v)), [256], { dtype: 'int32' }); } });
    mutations.push({ name: 'threshold NaN', edit: (s) => { const d = s.tensors['1.threshold']; s.tensors['1.threshold'] = sg.tensor(Float32Array.from(d.dataSync(), (v, i) => (i === 7 ? NaN : v))); } });
    mutations.push({ name: 'padding bit set', edit: (s) => { const w = s.tensors['0.weightBits']; s.tensors['0.weightBits'] = sg.tensor(Int32Array.from(w.dataSync(), (v, i) => (i === 27 ? v | (1 << 30) : v)), [256, 28], { dtype: 'int32' }); } });
    // config edits
    const keys = ['inFeatures', 'outFeatures', 'binarizeInputs', 'uint8Inputs', 'threshold', 'bnEps'];
    const values: [string, (v: unknown) => unknown][] = [['delete', () => undefined], ['null', () => null], ['string', (v) => String(v)], ['-1', () => -1], ['1.5', () => 1.5], ['2^40', () => 2 ** 40], ['flip', (v) => (typeof v === 'boolean' ? !v : typeof v === 'number' ? v + 1 : 1e-3)]];
    for (let stage = 0; stage < 3; stage++) {
      for (const key of keys) {
        for (const [label, f] of values) {
          if (stage === 0 && key === 'inFeatures' && label === 'flip') continue; // 785 inputs fit the same padded words: a different valid model
          if (stage === 2 && key === 'bnEps' && ['1.5', '2^40', 'flip'].includes(label)) continue; // another epsilon is another valid model
          mutations.push({ name: `stage ${stage} ${key} ${label}`, edit: (s) => editArch(s, (a) => { const v = f(a[stage].config[key]); if (v === undefined) delete a[stage].config[key]; else a[stage].config[key] = v; }) });
        }
      }
      mutations.push({ name: `stage ${stage} extra config key`, edit: (s) => editArch(s, (a) => (a[stage].config.note = 'x')) });
      mutations.push({ name: `stage ${stage} type`, edit: (s) => editArch(s, (a) => (a[stage].type = 'binary-dense ')) });
      mutations.push({ name: `stage ${stage} config array`, edit: (s) => editArch(s, (a) => (a[stage].config = [])) });
    }
    // metadata
    const meta: [string, (s: State) => void][] = [
      ['format', (s) => (s.metadata.format = 'snapgrad')],
      ['no format', (s) => delete s.metadata.format],
      ['version 2 without inputs', (s) => (s.metadata.version = '2')],
      ['version 3', (s) => (s.metadata.version = '3')],
      ['no version', (s) => delete s.metadata.version],
      ['architecture not JSON', (s) => (s.metadata.architecture = s.metadata.architecture.slice(0, -10))],
      ['architecture empty', (s) => (s.metadata.architecture = '[]')],
      ['architecture object', (s) => (s.metadata.architecture = '{}')],
      ['architecture null stage', (s) => (s.metadata.architecture = '[null]')],
      ['drop last stage', (s) => editArch(s, (a) => a.pop())],
      ['duplicate last stage', (s) => editArch(s, (a) => a.push(a[2]))],
      ['swap stages 0 and 2', (s) => editArch(s, (a) => ([a[0], a[2]] = [a[2], a[0]]))],
      ['swap stages 0 and 1', (s) => editArch(s, (a) => ([a[0], a[1]] = [a[1], a[0]]))],
      ['whitespace', (s) => (s.metadata.architecture = JSON.stringify(JSON.parse(s.metadata.architecture), null, 2))],
      ['extra metadata', (s) => (s.metadata.note = 'hello')],
    ];
    for (const [name, edit] of meta) mutations.push({ name, edit });
    // bytes
    const headerLength = Number(new DataView(SHIPPED.buffer, SHIPPED.byteOffset, 8).getBigUint64(0, true));
    const bytes = (f: (b: Uint8Array) => Uint8Array) => () => f(Uint8Array.from(SHIPPED));
    mutations.push({ name: 'file cut short', bytes: bytes((b) => b.slice(0, b.length - 1)) });
    mutations.push({ name: 'file half', bytes: bytes((b) => b.slice(0, b.length >> 1)) });
    mutations.push({ name: 'header length + 1', bytes: bytes((b) => { b[0]++; return b; }) });
    mutations.push({ name: 'header F32 -> I32', bytes: bytes((b) => { const h = new TextDecoder().decode(b.subarray(8, 8 + headerLength)).replace('"F32"', '"I32"'); b.set(new TextEncoder().encode(h), 8); return b; }) });
    mutations.push({ name: 'header I32 -> U8', bytes: bytes((b) => { const h = new TextDecoder().decode(b.subarray(8, 8 + headerLength)).replace('"I32"', '"U8" '); b.set(new TextEncoder().encode(h), 8); return b; }) });
    mutations.push({ name: 'header garbage', bytes: bytes((b) => { b[8 + (headerLength >> 1)] = 0x7b; return b; }) });

    let rejected = 0;
    let harmless = 0;
    for (const m of mutations) {
      sg.tidy(() => {
        let model;
        try {
          const st = m.bytes ? sg.io.parseSafetensors(m.bytes()) : sg.io.parseSafetensors(SHIPPED);
          if (m.edit) m.edit(st);
          model = sg.FrozenModel.fromState(st.tensors, st.metadata);
        } catch (err) {
          expect((err as Error).message, m.name).toMatch(/^(FrozenModel\.fromState|loadSafetensors): /);
          rejected++;
          return;
        }
        const got = model.predict(x()).toArray();
        model.dispose();
        expect(got, `${m.name} loaded, so it must predict as the original`).toEqual(original);
        harmless++;
      });
    }
    expect(mutations.length).toBeGreaterThanOrEqual(80);
    expect(rejected + harmless).toBe(mutations.length);
    expect(rejected).toBeGreaterThan(mutations.length * 0.8);
  });
});
