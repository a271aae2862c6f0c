// PyTorch state_dicts <-> snapgrad models (src/nn/torch-state.ts), against
// fixtures made by test/fixtures/gen_torch_conv.py with Debian's torch 1.13.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as sg from '../../src/index.js';
import { rawBytes, type Tensor } from '../../src/tensor/tensor.js';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const json = JSON.parse(readFileSync(`${fixtures}torch-conv.json`, 'utf8')) as Record<'conv' | 'mlp', { inputShape: number[]; input: number[]; outputShape: number[]; output: number[] }>;

/** float32 agreement with torch: its kernels sum in another order, so outputs of size ~1 differ in the last bits. */
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
    // Running statistics moved far from (0, 1) in training: a load that skipped them would miss by far more.
    const fresh = run(mlp(), json.mlp.input, json.mlp.inputShape);
    expect(maxAbsDiff(fresh, json.mlp.output)).toBeGreaterThan(100 * TOL);
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
    }, /loadStateDict: the PyTorch state does not match the model: missing 1\.running_var \(snapgrad "1\.runningVar"\).*strict: false/);
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
