// PyTorch state_dicts <-> snapgrad models (src/nn/torch-state.ts), against
// fixtures made by test/fixtures/gen_torch_conv.py with Debian's torch 1.13.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as sg from '../../src/index.js';
import { rawBytes, type Tensor } from '../../src/tensor/tensor.js';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const json = JSON.parse(readFileSync(`${fixtures}torch-conv.json`, 'utf8')) as Record<'conv' | 'mlp', { inputShape: number[]; input: number[]; outputShape: number[]; output: number[] }>;

/**
 * The reverse direction checked by PyTorch itself: with TORCH_CHECK_DIR=dir, the tests write
 * dir/torch-check-{conv,mlp}.safetensors from snapgrad-initialized models, with snapgrad's outputs on
 * the fixture inputs in the metadata, for `python3 test/fixtures/gen_torch_conv.py --check FILE`.
 * Run on 2026-12-02 (torch 1.13): both files load with load_state_dict(strict=True) and torch's
 * outputs match snapgrad's within max |diff| 1.12e-7 (conv net, 20 outputs) and 6.71e-8 (Linear-only,
 * 12 outputs); the same conv file with the dense columns left in [H, W, C] order misses by 0.29.
 */
const CHECK_DIR = process.env.TORCH_CHECK_DIR;

/**
 * float32 agreement with torch (absolute, on outputs of size ~0.1-1): the kernels sum in other orders, so
 * the last bits differ; measured 2.8e-7 (conv net) and 6.0e-8 (Linear-only) on 2026-12-02.
 */
const TOL = 1e-5;

beforeAll(async () => {
  await sg.init();
});

const loaded: Tensor[] = [];
async function torchState(file: string): Promise<Record<string, Tensor>> {
  const { tensors } = await sg.io.loadSafetensors(`${fixtures}${file}`);
  loaded.push(...Object.values(tensors));
  return tensors;
}
afterAll(() => loaded.forEach((t) => t.dispose()));

function bytesOf(t: Tensor): number[] {
  return [...rawBytes(t)];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Mirrors gen_torch_conv.py's mlp_net(): Linear(20, 7), BatchNorm1d(7), Tanh, Linear(7, 3, bias=False). */
function mlp(seed = 1): sg.nn.Sequential {
  return new sg.nn.Sequential(new sg.nn.Linear(20, 7, { seed }), new sg.nn.BatchNorm1d(7), new sg.nn.Tanh(), new sg.nn.Linear(7, 3, { bias: false, seed: seed + 1 }));
}

function snapshot(model: sg.nn.Module): Record<string, number[]> {
  return Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, bytesOf(t)]));
}

function run(model: sg.nn.Module, x: number[], shape: number[]): Float32Array {
  model.eval();
  return sg.tidy(() => sg.noGrad(() => (model.forward(sg.tensor(x, shape)) as Tensor).dataSync() as Float32Array));
}

describe('Linear-only model (no tracing needed)', () => {
  test('loads the PyTorch state and matches torch outputs', async () => {
    const state = await torchState('torch-conv-mlp.safetensors');
    expect(Object.keys(state).sort()).toEqual(['0.bias', '0.weight', '1.bias', '1.num_batches_tracked', '1.running_mean', '1.running_var', '1.weight', '3.weight']);
    const model = mlp();
    model.loadStateDict(state, { from: 'torch' });
    expect(bytesOf(model.stateDict()['1.runningVar'])).toEqual(bytesOf(state['1.running_var']));
    expect(bytesOf(model.stateDict()['0.weight'])).toEqual(bytesOf(state['0.weight']));
    const y = run(model, json.mlp.input, json.mlp.inputShape);
    const err = maxAbsDiff(y, json.mlp.output);
    expect(err).toBeLessThan(TOL);
    // The running statistics moved far from (0, 1) in training: a load that skipped them would miss by far more.
    const partial = mlp();
    partial.loadStateDict(Object.fromEntries(Object.entries(state).filter(([k]) => !k.includes('running'))), { from: 'torch', strict: false });
    expect(maxAbsDiff(run(partial, json.mlp.input, json.mlp.inputShape), json.mlp.output)).toBeGreaterThan(100 * TOL);
    partial.dispose();
    model.dispose();
  });

  test('stateDict({ to: "torch" }) gives back the PyTorch tensors bit for bit, as new tensors', async () => {
    const state = await torchState('torch-conv-mlp.safetensors');
    const model = mlp();
    model.loadStateDict(state, { from: 'torch' });
    const before = sg.memoryStats().tensorsAlive;
    const out = model.stateDict({ to: 'torch' });
    expect(sg.memoryStats().tensorsAlive - before).toBe(Object.keys(out).length);
    expect(Object.keys(out).sort()).toEqual(Object.keys(state).filter((k) => !k.endsWith('num_batches_tracked')).sort());
    for (const [k, t] of Object.entries(out)) {
      expect(t.shape, k).toEqual(state[k].shape);
      expect(bytesOf(t), k).toEqual(bytesOf(state[k]));
      expect(t).not.toBe(model.stateDict()[k]);
    }
    Object.values(out).forEach((t) => t.dispose());
    model.dispose();
  });

  test('non-strict loading takes a partial state; num_batches_tracked without a batch norm is unexpected', async () => {
    const state = await torchState('torch-conv-mlp.safetensors');
    const model = mlp();
    const before = snapshot(model);
    model.loadStateDict({ '0.weight': state['0.weight'], 'other.x': state['0.bias'] }, { from: 'torch', strict: false });
    const after = snapshot(model);
    expect(after['0.weight']).toEqual(bytesOf(state['0.weight']));
    expect(after['0.bias']).toEqual(before['0.bias']);
    expect(() => model.loadStateDict({ ...state, '3.num_batches_tracked': state['1.num_batches_tracked'] }, { from: 'torch' })).toThrow(/unexpected 3\.num_batches_tracked/);
    model.dispose();
  });
});

describe('error paths: clear messages, nothing changed, nothing leaked', () => {
  async function expectRejected(mutate: (s: Record<string, Tensor>) => Record<string, Tensor>, message: RegExp, options: object = { from: 'torch' }): Promise<void> {
    const state = await torchState('torch-conv-mlp.safetensors');
    const model = mlp(5);
    const before = snapshot(model);
    const bad = mutate({ ...state });
    const alive = sg.memoryStats().tensorsAlive;
    expect(() => model.loadStateDict(bad, options)).toThrow(message);
    expect(sg.memoryStats().tensorsAlive).toBe(alive);
    expect(snapshot(model)).toEqual(before);
    model.dispose();
  }

  test('missing key: named with its snapgrad counterpart and the fix', async () => {
    await expectRejected((s) => {
      delete s['1.running_var'];
      return s;
    }, /loadStateDict: the PyTorch state does not match the model: missing 1\.running_var \(snapgrad "1\.runningVar"\); build the snapgrad model with the torch module tree's structure .*strict: false/);
  });

  test('names under nn.DataParallel\'s "module." prefix: the fix says so', async () => {
    await expectRejected((s) => Object.fromEntries(Object.entries(s).map(([k, t]) => [`module.${k}`, t])), /missing 0\.weight, 0\.bias.*; unexpected module\.0\.bias.*"module\." prefix of nn\.DataParallel: drop it from every key/);
  });

  test('unexpected key (snapgrad names are not PyTorch names)', async () => {
    await expectRejected((s) => {
      s['1.runningMean'] = s['1.running_mean'];
      delete s['1.running_mean'];
      return s;
    }, /missing 1\.running_mean \(snapgrad "1\.runningMean"\); unexpected 1\.runningMean/);
  });

  test('wrong shape names the key, expected and got; a transposed Linear weight says so', async () => {
    const tr = sg.zeros([20, 7]);
    loaded.push(tr);
    await expectRejected((s) => ({ ...s, '0.weight': tr }), /loadStateDict: state\["0\.weight"\] has shape \[20,7\], expected \[7,20\] \(\[7,20\] in both; snapgrad "0\.weight"\): it looks transposed; PyTorch's Linear weight is \[out, in\]/);
    const short = sg.zeros([6]);
    loaded.push(short);
    await expectRejected((s) => ({ ...s, '1.running_mean': short }), /state\["1\.running_mean"\] has shape \[6\], expected \[7\]/);
  });

  test('a bad value is refused after conversion, before anything is written', async () => {
    const neg = sg.tensor([1, 1, 1, -1, 1, 1, 1]);
    loaded.push(neg);
    await expectRejected((s) => ({ ...s, '1.running_var': neg }), /state\["1\.runningVar"\] element 3 is -1.*left unchanged/);
  });

  test('wrong dtype and bad options', async () => {
    const i = sg.zeros([7], { dtype: 'int32' });
    loaded.push(i);
    await expectRejected((s) => ({ ...s, '0.bias': i }), /state\["0\.bias"\] is int32, expected float32 for "0\.bias"; convert it with \.cast\('float32'\)/);
    await expectRejected((s) => s, /from must be one of 'snapgrad', 'torch', got "pytorch"/, { from: 'pytorch' });
    await expectRejected((s) => s, /inputShape and example only apply with \{ from: 'torch' \}/, { inputShape: [20] });
    await expectRejected((s) => s, /options\.inputShape must be one example's shape without the batch axis/, { from: 'torch', inputShape: [0, 20] });
    const model = mlp();
    expect(() => model.stateDict({ to: 'onnx' } as never)).toThrow(/stateDict: to must be one of 'snapgrad', 'torch'/);
    expect(() => model.stateDict({ inputShape: [20] })).toThrow(/stateDict: inputShape and example only apply with \{ to: 'torch' \}/);
    model.dispose();
  });
});

describe('flatten order: [C, H, W] in PyTorch, [H, W, C] in snapgrad', () => {
  // H=2, W=3, C=4: a dense layer after Flatten reads 24 features.
  const [H, W, C, OUT] = [2, 3, 4, 5];
  const F = H * W * C;
  /** A PyTorch weight [OUT, F] (columns in c, h, w order) and an NCHW input, with distinct values. */
  const wTorch = Array.from({ length: OUT * F }, (_, i) => Math.fround(Math.sin(1.3 * i + 0.2)));
  const xNchw = Array.from({ length: 2 * F }, (_, i) => Math.fround(Math.cos(0.7 * i)));
  /** torch's y = W · flatten_chw(x), in float64 (the reference). */
  const yTorch = [0, 1].flatMap((n) => Array.from({ length: OUT }, (_, o) => {
    let s = 0;
    for (let f = 0; f < F; f++) s += wTorch[o * F + f] * xNchw[n * F + f];
    return s;
  }));
  /** The same images in NHWC for snapgrad. */
  const xNhwc = [0, 1].flatMap((n) => {
    const out: number[] = [];
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) out.push(xNchw[n * F + (c * H + y) * W + x]);
    return out;
  });

  test('nn.Flatten before a Linear: the columns are permuted, outputs match the float64 reference, and { to: "torch" } restores them', () => {
    const model = new sg.nn.Sequential(new sg.nn.Flatten(), new sg.nn.Linear(F, OUT, { bias: false }));
    const w = sg.tensor(wTorch, [OUT, F]);
    model.loadStateDict({ '1.weight': w }, { from: 'torch', inputShape: [H, W, C] });
    const loadedW = model.stateDict()['1.weight'].dataSync();
    // Column (y, x, c) in snapgrad is column (c, y, x) in PyTorch.
    expect(loadedW[0 * F + (1 * W + 2) * C + 3]).toBe(wTorch[0 * F + (3 * H + 1) * W + 2]);
    expect(loadedW[4 * F + 1]).toBe(wTorch[4 * F + H * W]);
    expect(maxAbsDiff(run(model, xNhwc, [2, H, W, C]), yTorch)).toBeLessThan(TOL);
    // Without inputShape the columns stay as they are: the outputs would be wrong.
    const plain = new sg.nn.Sequential(new sg.nn.Flatten(), new sg.nn.Linear(F, OUT, { bias: false }));
    plain.loadStateDict({ '1.weight': w }, { from: 'torch' });
    expect(maxAbsDiff(run(plain, xNhwc, [2, H, W, C]), yTorch)).toBeGreaterThan(0.1);
    const back = model.stateDict({ to: 'torch', inputShape: [H, W, C] });
    expect(bytesOf(back['1.weight'])).toEqual(bytesOf(w));
    back['1.weight'].dispose();
    w.dispose();
    model.dispose();
    plain.dispose();
  });

  test('a per-feature BatchNorm1d between the flatten and the Linear is permuted too; traced ops (reshape, relu) are followed', () => {
    class Net extends sg.nn.Module {
      bn = this.registerModule('bn', new sg.nn.BatchNorm1d(F));
      fc = this.registerModule('fc', new sg.nn.Linear(F, OUT, { bias: false }));
      forward(x: Tensor): Tensor {
        return this.fc.forward(this.bn.forward(sg.relu(sg.reshape(x, [x.shape[0], F]))));
      }
    }
    const model = new Net();
    const mean = sg.tensor(Array.from({ length: F }, (_, i) => i / 10));
    const w = sg.tensor(wTorch, [OUT, F]);
    const one = sg.ones([F]);
    const zero = sg.zeros([F]);
    model.loadStateDict({ 'bn.running_mean': mean, 'bn.running_var': one, 'bn.weight': one, 'bn.bias': zero, 'fc.weight': w }, { from: 'torch', inputShape: [H, W, C] });
    const m = model.stateDict()['bn.runningMean'].dataSync();
    expect(m[(1 * W + 2) * C + 3]).toBeCloseTo(((3 * H + 1) * W + 2) / 10, 6);
    // Reference: torch's y = W · (relu(x_chw) - mean) / sqrt(1 + eps).
    const ref = [0, 1].flatMap((n) => Array.from({ length: OUT }, (_, o) => {
      let s = 0;
      for (let f = 0; f < F; f++) s += wTorch[o * F + f] * ((Math.max(0, xNchw[n * F + f]) - Math.fround(f / 10)) / Math.sqrt(1 + 1e-5));
      return s;
    }));
    expect(maxAbsDiff(run(model, xNhwc, [2, H, W, C]), ref)).toBeLessThan(TOL);
    [mean, w, one, zero].forEach((t) => t.dispose());
    model.dispose();
  });

  test('a flattened value that reaches something other than an element-wise step or a dense layer is an error', () => {
    class Net extends sg.nn.Module {
      fc = this.registerModule('fc', new sg.nn.Linear(F / 2, OUT));
      forward(x: Tensor): Tensor {
        return this.fc.forward(sg.slice(sg.reshape(x, [x.shape[0], F]), [0, 0], [x.shape[0], F / 2]));
      }
    }
    const model = new Net();
    const before = snapshot(model);
    const state = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t]));
    expect(() => model.loadStateDict(state, { from: 'torch', inputShape: [H, W, C] })).toThrow(/loadStateDict: the op slice .*reads features flattened from NHWC \[2,3,4\] before any dense layer/);
    expect(snapshot(model)).toEqual(before);
    model.dispose();
  });
});

/** Mirrors gen_torch_conv.py's conv_net(); explicit padding where torch pads symmetrically. */
function convNet(seed = 1): sg.nn.Sequential {
  return new sg.nn.Sequential(
    new sg.nn.Conv2d(1, 4, 3, { padding: [[1, 1], [1, 1]], seed }),
    new sg.nn.BatchNorm2d(4), new sg.nn.ReLU(), new sg.nn.MaxPool2d(2),
    new sg.nn.Conv2d(4, 6, [3, 2], { stride: 2, padding: [[1, 1], [0, 0]], groups: 2, seed: seed + 1 }),
    new sg.nn.BatchNorm2d(6), new sg.nn.ReLU(), new sg.nn.Flatten(),
    new sg.nn.Linear(72, 16, { seed: seed + 2 }), new sg.nn.BatchNorm1d(16), new sg.nn.ReLU(), new sg.nn.Linear(16, 5, { seed: seed + 3 }),
  );
}
/** One example, NHWC. */
const IMAGE = [12, 16, 1];

/** NCHW data -> NHWC. */
function nhwc(x: number[], [n, c, h, w]: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) for (let ch = 0; ch < c; ch++) out.push(x[((i * c + ch) * h + y) * w + xx]);
  return out;
}
const convInput = (): [number[], number[]] => {
  const [n, c, h, w] = json.conv.inputShape;
  return [nhwc(json.conv.input, json.conv.inputShape), [n, h, w, c]];
};

/** The safetensors header of a file, parsed by hand (8-byte little-endian length, JSON). */
function header(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}

describe('conv net with batch norm (the PyTorch fixture)', () => {
  test('loads with { from: "torch", inputShape } and matches torch outputs; conv weights are OIHW -> HWIO', async () => {
    const state = await torchState('torch-conv.safetensors');
    const model = convNet();
    model.loadStateDict(state, { from: 'torch', inputShape: IMAGE });
    const y = run(model, ...convInput());
    expect(y.length).toBe(json.conv.output.length);
    expect(maxAbsDiff(y, json.conv.output)).toBeLessThan(TOL);
    // HWIO [kh, kw, in/groups, out] element (y, x, i, o) is OIHW [out, in/groups, kh, kw] element (o, i, y, x).
    const w4 = model.stateDict()['4.weight'];
    expect(w4.shape).toEqual([3, 2, 2, 6]);
    const [hw, tw] = [w4.dataSync(), state['4.weight'].dataSync()];
    for (const [yy, x, i, o] of [[0, 0, 0, 0], [2, 1, 1, 5], [1, 0, 1, 3], [2, 0, 0, 4]]) expect(hw[((yy * 2 + x) * 2 + i) * 6 + o]).toBe(tw[((o * 2 + i) * 3 + yy) * 2 + x]);
    // The dense layer after the flatten (6 channels of 3 x 4) has its columns permuted: snapgrad (h, w, c) = PyTorch (c, h, w).
    const [l8, t8] = [model.stateDict()['8.weight'].dataSync(), state['8.weight'].dataSync()];
    expect(l8[3 * 72 + (2 * 4 + 1) * 6 + 5]).toBe(t8[3 * 72 + (5 * 3 + 2) * 4 + 1]);
    // An example batch traces the same way as inputShape.
    const other = convNet(9);
    const example = sg.zeros([2, ...IMAGE]);
    other.loadStateDict(state, { from: 'torch', example });
    expect(snapshot(other)).toEqual(snapshot(model));
    example.dispose();
    other.dispose();
    model.dispose();
  });

  test('{ to: "torch" } returns every tensor of the original PyTorch state bit for bit, in the file layout load_file reads', async () => {
    const state = await torchState('torch-conv.safetensors');
    const model = convNet();
    model.loadStateDict(state, { from: 'torch', inputShape: IMAGE });
    const out = model.stateDict({ to: 'torch', inputShape: IMAGE });
    const names = Object.keys(state).filter((k) => !k.endsWith('.num_batches_tracked')).sort();
    expect(Object.keys(out).sort()).toEqual(names);
    for (const k of names) expect(bytesOf(out[k]), k).toEqual(bytesOf(state[k]));
    // The written file: the same header entries (dtype, shape) as the file PyTorch's state_dict made, minus the counters.
    const bytes = sg.io.saveSafetensors(out);
    const theirs = header(new Uint8Array(readFileSync(`${fixtures}torch-conv.safetensors`)));
    const ours = header(bytes);
    expect(Object.keys(ours).sort()).toEqual(names);
    for (const k of names) expect([ours[k].dtype, ours[k].shape], k).toEqual([theirs[k].dtype, theirs[k].shape]);
    const back = sg.io.parseSafetensors(bytes);
    for (const k of names) expect(bytesOf(back.tensors[k]), k).toEqual(bytesOf(state[k]));
    [...Object.values(out), ...Object.values(back.tensors)].forEach((t) => t.dispose());
    model.dispose();
  });

  test('a snapgrad-initialized conv net saved for PyTorch (the --check file)', async () => {
    const state = await torchState('torch-conv.safetensors');
    const model = convNet(3);
    // Training-mode passes on shifted data move the batch-norm statistics away from (0, 1).
    sg.tidy(() => sg.noGrad(() => {
      for (let i = 0; i < 5; i++) model.forward(sg.randn([8, ...IMAGE], { seed: 40 + i }).mul(1.5).add(0.5));
    }));
    expect(model.stateDict()['1.runningMean'].dataSync().some((v) => Math.abs(v) > 0.01)).toBe(true);
    const y = run(model, ...convInput());
    const out = model.stateDict({ to: 'torch', inputShape: IMAGE });
    const bytes = sg.io.saveSafetensors(out, { 'snapgrad.outputs': JSON.stringify([...y]) });
    Object.values(out).forEach((t) => t.dispose());
    const h = header(bytes);
    for (const k of Object.keys(state).filter((n) => !n.endsWith('.num_batches_tracked'))) expect(h[k]?.shape, k).toEqual(state[k].shape);
    // Loading it back into another snapgrad net reproduces the outputs exactly.
    const again = convNet(8);
    const parsed = sg.io.parseSafetensors(bytes);
    again.loadStateDict(parsed.tensors, { from: 'torch', inputShape: IMAGE });
    expect([...run(again, ...convInput())]).toEqual([...y]);
    Object.values(parsed.tensors).forEach((t) => t.dispose());
    if (CHECK_DIR) writeFileSync(`${CHECK_DIR}/torch-check-conv.safetensors`, bytes);
    again.dispose();
    model.dispose();
  });

  test('the same for the Linear-only net', () => {
    const model = mlp(21);
    sg.tidy(() => sg.noGrad(() => {
      for (let i = 0; i < 5; i++) model.forward(sg.randn([8, 20], { seed: 60 + i }).mul(1.5).add(0.5));
    }));
    const y = run(model, json.mlp.input, json.mlp.inputShape);
    const out = model.stateDict({ to: 'torch' });
    const bytes = sg.io.saveSafetensors(out, { 'snapgrad.outputs': JSON.stringify([...y]) });
    Object.values(out).forEach((t) => t.dispose());
    expect(Object.keys(header(bytes)).sort()).toEqual(['0.bias', '0.weight', '1.bias', '1.running_mean', '1.running_var', '1.weight', '3.weight', '__metadata__']);
    if (CHECK_DIR) writeFileSync(`${CHECK_DIR}/torch-check-mlp.safetensors`, bytes);
    model.dispose();
  });

  test('OIHW vs HWIO confusion and conv shape errors are explained; without inputShape a conv model asks for it', async () => {
    const state = await torchState('torch-conv.safetensors');
    const model = convNet();
    const before = snapshot(model);
    expect(() => model.loadStateDict(state, { from: 'torch' })).toThrow(/loadStateDict: this model has convolutions, so PyTorch layout needs options\.inputShape \(one example's NHWC shape/);
    expect(() => model.stateDict({ to: 'torch' })).toThrow(/stateDict: this model has convolutions/);
    // A PyTorch weight given to the plain loader: a permutation, not a reshape.
    expect(() => model.loadStateDict({ '0.weight': state['0.weight'] }, { strict: false })).toThrow(/state\["0\.weight"\] is float32 \[4,1,3,3\], expected float32 \[3,3,1,4\]; that is PyTorch's OIHW conv layout .*loadStateDict\(state, \{ from: 'torch' \}\)/);
    // A snapgrad (HWIO) weight inside a PyTorch state.
    const hwio = convNet(2).stateDict()['0.weight'];
    loaded.push(hwio);
    expect(() => model.loadStateDict({ ...state, '0.weight': hwio }, { from: 'torch', inputShape: IMAGE })).toThrow(/state\["0\.weight"\] has shape \[3,3,1,4\], expected \[4,1,3,3\] \(a conv weight: PyTorch OIHW \[4, 1, 3, 3\] for snapgrad's HWIO \[3,3,1,4\]; snapgrad "0\.weight"\): that is snapgrad's own HWIO layout, not PyTorch's; a state saved by snapgrad loads without \{ from: 'torch' \}/);
    // Groups forgotten in PyTorch: [6, 4, 3, 2] instead of [6, 2, 3, 2].
    const ungrouped = sg.zeros([6, 4, 3, 2]);
    loaded.push(ungrouped);
    expect(() => model.loadStateDict({ ...state, '4.weight': ungrouped }, { from: 'torch', inputShape: IMAGE })).toThrow(/state\["4\.weight"\] has shape \[6,4,3,2\], expected \[6,2,3,2\].*check in\/out channels, groups and kernel size/);
    // The wrong image shape: the flatten then feeds the dense layer a width it does not take.
    expect(() => model.loadStateDict(state, { from: 'torch', inputShape: [12, 12, 1] })).toThrow(/loadStateDict: PyTorch layout needs one traced run of the model on an example of shape \[1,12,12,1\].*failed: .*Linear/);
    expect(snapshot(model)).toEqual(before);
    model.dispose();
  });

  test('BinaryConv2d, QuantConv2d, BinaryLinear and QuantLinear take the PyTorch weights exactly like their float twins', async () => {
    const state = await torchState('torch-conv.safetensors');
    const ref = convNet();
    ref.loadStateDict(state, { from: 'torch', inputShape: IMAGE });
    const model = new sg.nn.Sequential(
      new sg.nn.QuantConv2d(1, 4, 3, { padding: [[1, 1], [1, 1]] }),
      new sg.nn.BatchNorm2d(4), new sg.nn.ReLU(), new sg.nn.MaxPool2d(2),
      new sg.nn.BinaryConv2d(4, 6, [3, 2], { stride: 2, padding: [[1, 1], [0, 0]], groups: 2, bias: true, binarizeInputs: false }),
      new sg.nn.BatchNorm2d(6), new sg.nn.ReLU(), new sg.nn.Flatten(),
      new sg.nn.BinaryLinear(72, 16, { binarizeInputs: false, bias: true }), new sg.nn.BatchNorm1d(16), new sg.nn.ReLU(), new sg.nn.QuantLinear(16, 5),
    );
    // The quantizers' own state (activation ranges) has no PyTorch counterpart: strict loading names it.
    const extra = Object.keys(model.stateDict()).filter((k) => !(k in ref.stateDict()));
    expect(extra.length).toBeGreaterThan(0);
    expect(() => model.loadStateDict(state, { from: 'torch', inputShape: IMAGE })).toThrow(new RegExp(`missing .*${extra[0].replace('.', '\\.')}`));
    model.loadStateDict(state, { from: 'torch', inputShape: IMAGE, strict: false });
    for (const [k, t] of Object.entries(ref.stateDict())) expect(bytesOf(model.stateDict()[k]), k).toEqual(bytesOf(t));
    ref.dispose();
    model.dispose();
  });

  test('binary and quantized dense layers hold latent float weights in the same layout: a BinaryLinear after a flatten is permuted like a Linear', () => {
    const F = 2 * 3 * 4;
    const w = sg.tensor(Array.from({ length: 3 * F }, (_, i) => Math.fround(Math.sin(i + 0.5) * 0.9)), [3, F]);
    const model = new sg.nn.Sequential(new sg.nn.Flatten(), new sg.nn.BinaryLinear(F, 3, { bias: false }));
    model.loadStateDict({ '1.weight': w }, { from: 'torch', inputShape: [2, 3, 4] });
    const got = model.stateDict()['1.weight'].dataSync();
    const src = w.dataSync();
    for (let j = 0; j < F; j++) expect(got[F + j]).toBe(src[F + (j % 4) * 6 + Math.floor(j / 4)]);
    const back = model.stateDict({ to: 'torch', inputShape: [2, 3, 4] });
    expect(bytesOf(back['1.weight'])).toEqual(bytesOf(w));
    back['1.weight'].dispose();
    w.dispose();
    model.dispose();
  });
});
