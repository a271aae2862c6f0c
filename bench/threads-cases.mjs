// The cases of bench/threads.mjs, built against a given snapgrad module: the
// GEMMs at 128x1024x784 and larger, the pool-overhead GEMV and the BNN
// training step. Shared by the threads benchmark and its ceiling workers
// (bench/threads-ceiling-worker.mjs), which build the same cases in their own
// single-thread instances.
import { seededFloats } from './harness.mjs';
import { adamStep, batch, LR } from './training.mjs';
import { binaryMlp } from '../examples/common.mjs';

/** [{ name, shape, unit, ops, run, dispose }] for `sg` (initialized). */
export function threadCases(sg) {
  const cases = [];
  const gemm = (M, N, K) => {
    const a = sg.keep(sg.tensor(seededFloats(M * K, 1), [M, K])), b = sg.keep(sg.tensor(seededFloats(K * N, 2), [K, N]));
    return { run: () => sg.tidy(() => { sg.matmul(a, b); }), ops: 2 * M * N * K, dispose: () => { a.dispose(); b.dispose(); } };
  };
  for (const [M, N, K] of [[128, 1024, 784], [256, 1024, 1024], [512, 512, 512]]) cases.push({ name: 'gemm_f32', shape: `${M}x${N}x${K}`, unit: 'GFLOP/s', ...gemm(M, N, K) });
  {
    const [M, N, K] = [128, 1024, 784];
    const a = sg.keep(sg.tensor(seededFloats(M * K, 3).map((v) => Math.round(v * 127)), [M, K], { dtype: 'int8' }));
    const b = sg.keep(sg.tensor(seededFloats(N * K, 4).map((v) => Math.round(v * 127)), [N, K], { dtype: 'int8' }));
    cases.push({ name: 'gemm_s8', shape: `${M}x${N}x${K}`, unit: 'GOP/s', ops: 2 * M * N * K, run: () => sg.tidy(() => { sg.int8Matmul(a, b, { transposeB: true }); }), dispose: () => { a.dispose(); b.dispose(); } });
  }
  for (const k of [784, 4096]) {
    const [M, N] = [128, 1024];
    const a = sg.keep(sg.packBits(sg.tensor(seededFloats(M * k, 5), [M, k]))), b = sg.keep(sg.packBits(sg.tensor(seededFloats(N * k, 6), [N, k])));
    cases.push({ name: 'gemm_b1', shape: `${M}x${N}x${k}`, unit: 'G binop/s', ops: 2 * M * N * k, run: () => sg.tidy(() => { sg.binaryMatmul(a, b, k); }), dispose: () => { a.dispose(); b.dispose(); } });
  }
  {
    const [M, N, K] = [128, 1024, 784];
    const x = sg.keep(sg.tensor(seededFloats(M * K, 7).map((v) => Math.floor((v + 1) * 127.5)), [M, K], { dtype: 'uint8' }));
    const w = sg.keep(sg.packBits(sg.tensor(seededFloats(N * K, 8), [N, K])));
    cases.push({ name: 'gemm_u8b1', shape: `${M}x${N}x${K}`, unit: 'GOP/s', ops: 2 * M * N * K, run: () => sg.tidy(() => { sg.uint8BinaryMatmul(x, w); }), dispose: () => { x.dispose(); w.dispose(); } });
  }
  cases.push({ name: 'gemm_f32 GEMV (pool overhead)', shape: '1x1024x784', unit: 'GFLOP/s', ...gemm(1, 1024, 784) });
  // The model of examples/mnist-bnn.mjs, built against this `sg`.
  const model = binaryMlp({ lib: sg });
  model.train();
  const step = adamStep(sg, model, batch(), LR, 128);
  cases.push({ name: 'BNN training step', shape: '784-1024-1024-10, batch 128', unit: 'steps/s', ops: 1e9 / 1e3, run: step.step, dispose: step.dispose });
  return cases;
}
