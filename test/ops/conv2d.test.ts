// conv2d and nn.Conv2d: the op against a float64 direct convolution on
// awkward shapes, gradients by float64 finite differences (gradcheck), bad
// input errors, memory, the layer's init, summary and freeze.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { errorOf } from '../support/errors.js';
import { expectOpMemory } from '../support/memory.js';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const own = disposeAfterEach();

interface Geo { stride?: number | [number, number]; padding?: 'same' | 'valid' | [[number, number], [number, number]]; dilation?: number | [number, number]; groups?: number }

/** float64 direct convolution with TF 'same' padding computed here, independently of conv-geometry. */
function direct(x: Float32Array, xs: number[], w: Float32Array, ws: number[], o: Geo): { y: Float64Array; shape: number[] } {
  const [N, H, W, C] = xs;
  const [kh, kw, cg, cout] = ws;
  const G = o.groups ?? 1, og = cout / G;
  const p2 = (v: number | [number, number] | undefined) => (v === undefined ? [1, 1] : typeof v === 'number' ? [v, v] : v);
  const [sh, sw] = p2(o.stride), [dh, dw] = p2(o.dilation);
  let pt = 0, pb = 0, pl = 0, pr = 0;
  const pad = o.padding ?? 'valid';
  if (pad === 'same') {
    const tot = (n: number, k: number, s: number, d: number) => Math.max(0, (Math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n);
    const th = tot(H, kh, sh, dh), tw = tot(W, kw, sw, dw);
    pt = Math.floor(th / 2); pb = th - pt; pl = Math.floor(tw / 2); pr = tw - pl;
  } else if (pad !== 'valid') [[pt, pb], [pl, pr]] = pad;
  const oh = Math.floor((H + pt + pb - (kh - 1) * dh - 1) / sh) + 1, ow = Math.floor((W + pl + pr - (kw - 1) * dw - 1) / sw) + 1;
  const y = new Float64Array(N * oh * ow * cout);
  for (let n = 0; n < N; n++) for (let a = 0; a < oh; a++) for (let b = 0; b < ow; b++) for (let q = 0; q < cout; q++) {
    const g = Math.floor(q / og);
    let acc = 0;
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
      const ih = a * sh - pt + i * dh, iw = b * sw - pl + j * dw;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      for (let c = 0; c < cg; c++) acc += x[((n * H + ih) * W + iw) * C + g * cg + c] * w[((i * kw + j) * cg + c) * cout + q];
    }
    y[((n * oh + a) * ow + b) * cout + q] = acc;
  }
  return { y, shape: [N, oh, ow, cout] };
}

const CASES: { x: number[]; w: number[]; o: Geo }[] = [
  { x: [1, 1, 1, 1], w: [1, 1, 1, 1], o: {} },
  { x: [2, 1, 1, 3], w: [5, 5, 3, 4], o: { padding: 'same' } },
  { x: [2, 5, 7, 3], w: [3, 3, 3, 5], o: { padding: 'same', stride: 2 } },
  { x: [1, 7, 11, 5], w: [3, 2, 5, 7], o: { stride: [2, 3], padding: [[1, 0], [2, 3]] } },
  { x: [3, 9, 8, 6], w: [3, 3, 6, 9], o: { dilation: 2, padding: 'same', stride: 3 } },
  { x: [2, 13, 11, 33], w: [3, 3, 33, 37], o: { padding: 'same' } },
  { x: [1, 6, 6, 6], w: [3, 3, 3, 4], o: { padding: 'same', stride: 2, groups: 2 } },
  { x: [2, 5, 5, 7], w: [3, 3, 1, 14], o: { padding: 'same', groups: 7 } },
  { x: [3, 5, 3, 17], w: [1, 1, 17, 31], o: {} },
  { x: [2, 4, 5, 6], w: [1, 1, 2, 9], o: { groups: 3 } },
  { x: [0, 5, 5, 3], w: [3, 3, 3, 4], o: { padding: 'same' } },
  { x: [1, 4, 9, 2], w: [4, 9, 2, 3], o: {} },
];

describe('conv2d', () => {
  test('matches a float64 direct convolution on awkward shapes', () => {
    CASES.forEach(({ x: xs, w: ws, o }, k) => {
      const xv = seededArray(xs.reduce((a, b) => a * b, 1), 10 + k), wv = seededArray(ws.reduce((a, b) => a * b, 1), 50 + k);
      const want = direct(xv, xs, wv, ws, o);
      sg.tidy(() => {
        const y = sg.conv2d(sg.tensor(xv, xs), sg.tensor(wv, ws), o);
        expect(y.shape, JSON.stringify(o)).toEqual(want.shape);
        const got = y.dataSync();
        const K = ws[0] * ws[1] * ws[2];
        for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want.y[i]), `case ${k} element ${i}`).toBeLessThanOrEqual(K * 2 ** -22);
      });
    });
  });

  test('hand-computed: a 2x2 sum window with stride 2 and same padding', () => {
    // x 3x3 = 1..9, w all ones: out 2x2 (ceil(3/2)), total pad 1 -> at bottom/right
    const y = sg.tidy(() => sg.conv2d(sg.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]), sg.ones([2, 2, 1, 1]), { stride: 2, padding: 'same' }).dataSync());
    expect(Array.from(y)).toEqual([1 + 2 + 4 + 5, 3 + 6, 7 + 8, 9]);
  });

  test('gradients pass gradcheck (float64 finite differences) for x and w', () => {
    const shapes = [CASES[1], CASES[2], CASES[3], CASES[4], CASES[6], CASES[7], CASES[9], { x: [2, 4, 4, 2], w: [2, 2, 2, 3], o: { stride: 2 } as Geo }];
    shapes.forEach(({ x: xs, w: ws, o }, k) => {
      const x = own(sg.tensor(seededArray(xs.reduce((a, b) => a * b, 1), 300 + k), xs, { requiresGrad: true }));
      const w = own(sg.tensor(seededArray(ws.reduce((a, b) => a * b, 1), 400 + k), ws, { requiresGrad: true }));
      // a random weighting of the outputs, so that dy is not all ones
      const ys = sg.tidy(() => sg.conv2d(x, w, o).shape);
      const r = own(sg.tensor(seededArray(ys.reduce((a, b) => a * b, 1), 500 + k), ys));
      const res = sg.gradcheck((a, b) => sg.mul(sg.conv2d(a, b, o), r), [x, w], { eps: 1e-2, atol: 1e-2, rtol: 1e-2 });
      expect(res.ok, `${JSON.stringify({ xs, ws, o })}: ${JSON.stringify(res.worst)}`).toBe(true);
      x.grad?.dispose();
      w.grad?.dispose();
    });
  });

  test('only the operand that needs a gradient gets one', () => {
    const x = own(sg.randn([2, 5, 5, 3], { seed: 1 }));
    const w = own(sg.tensor(seededArray(3 * 3 * 3 * 4, 2), [3, 3, 3, 4], { requiresGrad: true }));
    sg.tidy(() => sg.conv2d(x, w, { padding: 'same' }).sum().backward());
    expect(x.grad).toBeNull();
    expect(w.grad!.shape).toEqual([3, 3, 3, 4]);
    w.grad!.dispose();
  });

  test('is deterministic: the same bits on repeated calls, forward and both gradients', () => {
    const run = () => {
      const x = sg.tensor(seededArray(4 * 12 * 12 * 8, 9), [4, 12, 12, 8], { requiresGrad: true });
      const w = sg.tensor(seededArray(3 * 3 * 8 * 16, 8), [3, 3, 8, 16], { requiresGrad: true });
      const y = sg.tidy(() => {
        const y = sg.conv2d(x, w, { padding: 'same' });
        sg.mul(y, y).sum().backward();
        return y.dataSync();
      });
      const out = [y, x.grad!.dataSync(), w.grad!.dataSync()];
      for (const t of [x.grad!, w.grad!, x, w]) t.dispose();
      return out;
    };
    expect(run()).toEqual(run());
  });

  test('leaves alive only its output; backward adds only the gradients', () => {
    const x = own(sg.tensor(seededArray(2 * 9 * 9 * 5, 3), [2, 9, 9, 5], { requiresGrad: true }));
    const w = own(sg.tensor(seededArray(3 * 3 * 5 * 6, 4), [3, 3, 5, 6], { requiresGrad: true }));
    expectOpMemory('conv2d same', [x, w], () => sg.conv2d(x, w, { padding: 'same', stride: 2 }), 0);
    const w1 = own(sg.tensor(seededArray(5 * 6, 5), [1, 1, 5, 6], { requiresGrad: true }));
    expectOpMemory('conv2d 1x1', [x, w1], () => sg.conv2d(x, w1), 0);
    const before = sg.memoryStats();
    for (let i = 0; i < 3; i++) sg.tidy(() => sg.conv2d(x, w, { padding: 'same' }).sum().backward());
    for (const t of [x, w]) { t.grad?.dispose(); t.grad = null; }
    expect(sg.memoryStats()).toEqual(before);
  });

  test('bad inputs: errors name conv2d, the argument and what was expected, and leak nothing', () => {
    const x = own(sg.zeros([2, 5, 5, 4]));
    const w = own(sg.zeros([3, 3, 4, 6]));
    const t = (shape: number[], dtype: 'float32' | 'int32' | 'int8' = 'float32') => own(sg.zeros(shape, { dtype }));
    const xi = t([2, 5, 5, 4], 'int32'), w8 = t([3, 3, 4, 6], 'int8'), x3 = t([5, 5, 4]), w3 = t([3, 4, 6]);
    const wc = t([3, 3, 3, 6]), wg3 = t([3, 3, 1, 6]), wg2 = t([3, 3, 2, 5]), wbig = t([7, 3, 4, 6]), w0 = t([0, 3, 4, 6]);
    expect(errorOf(() => sg.conv2d(xi, w))).toMatch(/^conv2d: x must be float32, got int32/);
    expect(errorOf(() => sg.conv2d(x, w8))).toMatch(/^conv2d: w must be float32, got int8/);
    expect(errorOf(() => sg.conv2d(x3, w))).toMatch(/^conv2d: x must be 4-D NHWC \[batch, height, width, channels\], got shape \[5,5,4\]; add a batch axis/);
    expect(errorOf(() => sg.conv2d(x, w3))).toMatch(/^conv2d: w must be 4-D HWIO/);
    expect(errorOf(() => sg.conv2d(x, wc))).toMatch(/^conv2d: w must have inChannels\/groups = 4 on axis 2 .*got shape \[3,3,3,6\]/);
    expect(errorOf(() => sg.conv2d(x, wg3, { groups: 3 }))).toMatch(/^conv2d: groups = 3 must divide the input channels \(x has 4/);
    expect(errorOf(() => sg.conv2d(x, wg2, { groups: 2 }))).toMatch(/^conv2d: groups = 2 must divide the output channels/);
    expect(errorOf(() => sg.conv2d(x, w, { groups: 0 }))).toMatch(/^conv2d: groups must be >= 1/);
    expect(errorOf(() => sg.conv2d(x, wbig))).toMatch(/^conv2d: the 7x3 window .* does not fit the padded input 5x5.*use padding: 'same'/);
    expect(errorOf(() => sg.conv2d(x, w, { stride: 0 }))).toMatch(/^conv2d: stride must be >= 1/);
    expect(errorOf(() => sg.conv2d(x, w, { padding: 'full' as 'same' }))).toMatch(/^conv2d: padding must be 'same', 'valid'/);
    expect(errorOf(() => sg.conv2d(x, w0))).toMatch(/^conv2d: w must have a window of at least 1x1/);
    expect(errorOf(() => sg.conv2d(x, w, 3 as unknown as {}))).toMatch(/^conv2d: options must be an object/);
  });
});

/** A frozen model saved to safetensors bytes and loaded back (owned by the test). */
function reload(frozen: { state(): { tensors: Record<string, Tensor>; metadata: Record<string, string> } }) {
  const st = frozen.state();
  const file = sg.io.parseSafetensors(sg.io.saveSafetensors(st.tensors, st.metadata));
  return own(sg.nn.FrozenModel.fromState(file.tensors, file.metadata));
}

describe('nn.Conv2d', () => {
  test('weight HWIO and bias, initialized U(±1/√fan_in) with fan_in = kh·kw·in/groups, seeded', () => {
    const a = own(new sg.nn.Conv2d(6, 8, [3, 2], { groups: 2, seed: 5 }));
    expect(a.weight.shape).toEqual([3, 2, 3, 8]);
    expect(a.bias!.shape).toEqual([8]);
    const bound = 1 / Math.sqrt(3 * 2 * 3);
    const wv = a.weight.dataSync();
    expect(Math.max(...wv.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...wv.map(Math.abs))).toBeGreaterThan(bound * 0.8);
    expect(Math.max(...a.bias!.dataSync().map(Math.abs))).toBeLessThanOrEqual(bound);
    const b = own(new sg.nn.Conv2d(6, 8, [3, 2], { groups: 2, seed: 5 }));
    expect(Array.from(b.weight.dataSync())).toEqual(Array.from(wv));
    const c = own(new sg.nn.Conv2d(3, 4, 3, { bias: false }));
    expect(c.bias).toBeNull();
    expect(c.parameters().length).toBe(1);
  });

  test('forward = conv2d(x, weight) + bias, with its options, and trains', () => {
    const layer = own(new sg.nn.Conv2d(3, 5, 3, { padding: 'same', stride: 2, seed: 1 }));
    const x = own(sg.tensor(seededArray(2 * 7 * 7 * 3, 11), [2, 7, 7, 3]));
    sg.tidy(() => {
      const y = layer.forward(x);
      const want = sg.add(sg.conv2d(x, layer.weight, { padding: 'same', stride: 2 }), layer.bias!);
      expect(y.shape).toEqual([2, 4, 4, 5]);
      expect(Array.from(y.dataSync())).toEqual(Array.from(want.dataSync()));
      y.sum().backward();
    });
    // d(sum y)/d bias = number of output pixels
    expect(Array.from(layer.bias!.grad!.dataSync())).toEqual([32, 32, 32, 32, 32]);
    expect(layer.weight.grad!.shape).toEqual([3, 3, 3, 5]);
    for (const p of layer.parameters()) { p.grad?.dispose(); p.grad = null; }
  });

  test('constructor and forward errors name Conv2d', () => {
    expect(errorOf(() => new sg.nn.Conv2d(0, 4, 3))).toMatch(/^Conv2d: inChannels must be >= 1/);
    expect(errorOf(() => new sg.nn.Conv2d(4, 6, 3, { groups: 4 }))).toMatch(/^Conv2d: groups = 4 must divide inChannels \(4\) and outChannels \(6\)/);
    expect(errorOf(() => new sg.nn.Conv2d(4, 6, [3, 0]))).toMatch(/^Conv2d: kernelSize\[1\] must be >= 1/);
    expect(errorOf(() => new sg.nn.Conv2d(4, 6, 3, { padding: 'full' as 'same' }))).toMatch(/^Conv2d: padding must be/);
    const layer = own(new sg.nn.Conv2d(4, 6, 3));
    const x3 = own(sg.zeros([1, 5, 5, 3])), small = own(sg.zeros([1, 2, 2, 4])), flat = own(sg.zeros([5, 4]));
    expect(errorOf(() => layer.forward(x3))).toMatch(/^Conv2d: x must have 4 channels on its last axis \(NHWC/);
    expect(errorOf(() => layer.forward(small))).toMatch(/^Conv2d: the 3x3 window/);
    expect(errorOf(() => layer.forward(flat))).toMatch(/^Conv2d: x must be 4-D NHWC/);
  });

  test('summary counts N·outH·outW·Cout·kh·kw·Cin/groups float MACs', () => {
    const net = own(new sg.nn.Sequential(new sg.nn.Conv2d(4, 6, 3, { padding: 'same', groups: 2 }), new sg.nn.ReLU(), new sg.nn.Conv2d(6, 8, 1, { stride: 2 })));
    const s = sg.tidy(() => sg.summary(net, { example: sg.zeros([2, 5, 5, 4]) }));
    // per sample (summary divides by the batch of 2)
    expect(s.macs.float).toBe(5 * 5 * 6 * 3 * 3 * 2 + 3 * 3 * 8 * 1 * 1 * 6);
  });

  test('freezes to float conv stages whose predictions equal eval mode bit for bit, also after save and load', () => {
    const net = own(new sg.nn.Sequential(
      new sg.nn.Conv2d(3, 8, 3, { padding: 'same', seed: 1 }), new sg.nn.ReLU(),
      new sg.nn.Conv2d(8, 8, 3, { stride: 2, groups: 4, padding: [[1, 0], [0, 1]], seed: 2 }), new sg.nn.Tanh(),
      new sg.nn.Conv2d(8, 4, 1, { bias: false, seed: 3 }), new sg.nn.Flatten(), new sg.nn.Linear(4 * 4 * 4, 3, { seed: 4 }),
    ));
    const x = own(sg.tensor(seededArray(5 * 8 * 8 * 3, 21), [5, 8, 8, 3]));
    const frozen = own(sg.freeze(net, { example: x }));
    expect(frozen.stages.filter((s) => s.type === 'conv2d').length).toBe(3);
    const want = sg.tidy(() => { net.eval(); return sg.noGrad(() => net.forward(x)).dataSync(); });
    const got = sg.tidy(() => frozen.predict(x).dataSync());
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(Array.from(sg.tidy(() => reload(frozen).predict(x).dataSync()))).toEqual(Array.from(want));
  });

  test('a custom forward calling sg.conv2d is traced and replayed by a frozen model', () => {
    const w = own(sg.tensor(seededArray(3 * 3 * 2 * 3, 31), [3, 3, 2, 3]));
    class Net extends sg.nn.Module {
      forward(x: Tensor): Tensor {
        return sg.relu(sg.conv2d(x, w, { padding: 'same', dilation: 2 }));
      }
    }
    const net = own(new Net());
    const x = own(sg.tensor(seededArray(2 * 6 * 6 * 2, 32), [2, 6, 6, 2]));
    const frozen = own(sg.freeze(net, { example: x }));
    // summary counts the traced op: 6·6·3 outputs per sample, 3·3·2 MACs each
    expect(sg.tidy(() => sg.summary(net, { example: x })).macs.float).toBe(6 * 6 * 3 * 3 * 3 * 2);
    const want = sg.tidy(() => net.forward(x).dataSync());
    expect(Array.from(sg.tidy(() => frozen.predict(x).dataSync()))).toEqual(Array.from(want));
    expect(Array.from(sg.tidy(() => reload(frozen).predict(x).dataSync()))).toEqual(Array.from(want));
  });

  test('a stored conv2d stage with a bad config or weight fails to load with a clear error', () => {
    const layer = own(new sg.nn.Conv2d(2, 4, 3, { seed: 1 }));
    const frozen = own(sg.freeze(new sg.nn.Sequential(layer), { example: own(sg.zeros([1, 4, 4, 2])) }));
    const bad = (edit: (config: any) => void) => sg.tidy(() => {
      const st = frozen.state();
      const arch = JSON.parse(st.metadata.architecture);
      edit(arch[0].config);
      return errorOf(() => sg.nn.FrozenModel.fromState({ ...st.tensors }, { ...st.metadata, architecture: JSON.stringify(arch) }));
    });
    expect(bad((c) => { c.padding = 'full'; })).toMatch(/config\.padding must be 'same', 'valid'/);
    expect(bad((c) => { c.stride = [0, 1]; })).toMatch(/config\.stride must be a pair/);
    expect(bad((c) => { c.groups = 3; })).toMatch(/config\.groups \(3\) must divide/);
  });
});
