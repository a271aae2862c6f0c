// Regression tests for what the issue-10 fuzz suite (test/fuzz: tensor, ops, ste, kernels)
// found in the code after the hardening merges.
import { expect, test } from 'vitest';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';
import { errorOf } from '../support/errors.js';

const sg = useSnapgrad();
expectNoLeaks();


const draw = () => {
  const t = sg.rand([3]);
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
};

test('the default generator refuses to step past 2^53 - 1 instead of replaying one stream; rngState() always restores', () => {
  sg.setRngState({ seed: 5, counter: Number.MAX_SAFE_INTEGER - 1 });
  const last = draw();
  const state = sg.rngState();
  expect(state).toEqual({ seed: 5, counter: Number.MAX_SAFE_INTEGER });
  // Was: the counter went to 2^53 and stopped moving (every later call gave the same values), and
  // setRngState(rngState()) threw "state.counter must be a non-negative safe integer".
  expect(errorOf(() => sg.rand([3]))).toMatch(/^rand: .*seed\(n\)/);
  expect(errorOf(() => sg.randn([2]))).toMatch(/^randn: /);
  expect(sg.rngState()).toEqual(state);
  sg.setRngState(state);
  sg.setRngState({ seed: 5, counter: Number.MAX_SAFE_INTEGER - 1 });
  expect(draw()).toEqual(last);
  // An explicit seed still works at the last stream.
  sg.setRngState(state);
  const t = sg.rand([2], { seed: 1 });
  t.dispose();
  sg.seed(0);
});

test('batchNorm: null options mean the defaults, an eps that vanishes in float32 and running statistics aliasing an input are clear errors that change nothing', () => {
  const x = sg.tensor([[1, 1], [1, 1], [1, 1]]);
  const w = sg.ones([2]);
  const b = sg.zeros([2]);
  const rm = sg.tensor([0.5, 0.5]);
  const rv = sg.tensor([2, 2]);
  try {
    // Was: "batchNorm: options must be an object, got null".
    expect(errorOf(() => sg.batchNorm(x, null))).toMatch(/^batchNorm: eval mode \(training: false\) needs runningMean and runningVar/);
    const y = sg.batchNorm(x, { runningMean: rm, runningVar: rv, training: null as unknown as boolean, eps: null as unknown as number });
    expect(Array.from(y.dataSync())).toEqual(new Array(6).fill(Math.fround(Math.fround(0.5) / Math.fround(Math.sqrt(Math.fround(2 + 1e-5))))));
    y.dispose();
    // Was: accepted; eps rounds to 0 in float32 and a constant channel came out NaN (0 / 0).
    expect(errorOf(() => sg.batchNorm(x, { training: true, eps: 1e-50 }))).toMatch(/^batchNorm: eps = 1e-50 must be a positive normal float32/);
    // Was: accepted; the in-place running update rewrote the layer's weight.
    expect(errorOf(() => sg.batchNorm(x, { training: true, weight: w, bias: b, runningMean: w, runningVar: rv }))).toMatch(/^batchNorm: runningMean shares memory with weight/);
    expect(errorOf(() => sg.batchNorm(x, { training: true, runningMean: rm, runningVar: rm }))).toMatch(/^batchNorm: runningMean and runningVar must be two different tensors/);
    expect(Array.from(w.dataSync())).toEqual([1, 1]);
    expect(Array.from(rm.dataSync())).toEqual([0.5, 0.5]);
    expect(Array.from(rv.dataSync())).toEqual([2, 2]);
  } finally {
    for (const t of [x, w, b, rm, rv]) t.dispose();
  }
});

test('init: a valid wasm module without the kernels, and wasm bytes in a DataView, give clear answers (were internal TypeErrors)', async () => {
  const { vi } = await import('vitest');
  const { readFileSync } = await import('node:fs');
  const bytes = readFileSync(new URL('../../dist/snapgrad.simd.wasm', import.meta.url));
  vi.resetModules();
  const fresh = (await import('../../src/index.js')) as typeof sg;
  // The 8-byte header alone is a valid, empty module. Was: "kernels.heap_base is not a function".
  await expect(fresh.init({ wasm: bytes.subarray(0, 8) })).rejects.toThrow(/^init: the wasm module does not match this version of snapgrad \(it lacks \d+ of the kernels, e.g. heap_base/);
  // Was: "WebAssembly.compile(): Argument 0 must be a buffer source".
  const copy = new Uint8Array(bytes);
  await fresh.init({ wasm: new DataView(copy.buffer) as unknown as Uint8Array });
  const a = fresh.tensor([[1, 2], [3, 4]]);
  const c = fresh.matmul(a, a);
  expect(Array.from(c.dataSync())).toEqual([7, 10, 15, 22]);
  a.dispose();
  c.dispose();
});

test('ste.vq: a nonzero beta below the float32 normal range is a clear error (it rounded to 0: a zero commitment loss)', () => {
  const z = sg.tensor([[1e18, 0]]);
  const cb = sg.tensor([[0, 0], [1, 1]]);
  try {
    expect(errorOf(() => sg.ste.vq(z, cb, { beta: 1e-60 }))).toMatch(/^ste\.vq: beta = 1e-60 must be 0 or a normal float32 value/);
    const r = sg.ste.vq(z, cb, { beta: 0 });
    expect(r.commitmentLoss.item()).toBe(0);
    for (const t of [r.zq, r.indices, r.commitmentLoss, r.codebookLoss]) t.dispose();
  } finally {
    z.dispose();
    cb.dispose();
  }
});
