// f32 GEMM in every transpose form: snapgrad (public sg.matmul) against
// tfjs-wasm (XNNPACK, single thread) and a plain-JS i-k-j loop, same process.
import { createRequire } from 'node:module';
import path from 'node:path';
import { measure, gops, seededFloats } from '../harness.mjs';

export const title = 'f32 GEMM C = op(A)·op(B), GFLOP/s = 2·M·N·K / median time (single thread)';
export const columns = ['kernel', 'shape MxNxK', 'form', 'snapgrad GFLOP/s', 'snapgrad best', 'vs plain form', 'tfjs-wasm GFLOP/s', 'plain JS GFLOP/s', 'ratio vs tfjs'];

const FORMS = [
  { name: 'A·B', ta: false, tb: false },
  { name: 'Aᵀ·B', ta: true, tb: false },
  { name: 'A·Bᵀ', ta: false, tb: true },
  { name: 'Aᵀ·Bᵀ', ta: true, tb: true },
];

/** tfjs-core with the wasm backend from node_modules, pinned to one thread. */
export async function loadTfjsWasm() {
  const tf = await import('@tensorflow/tfjs-core');
  const tfw = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + path.sep;
  tfw.setWasmPaths(dir);
  tfw.setThreadsCount(1);
  await tf.setBackend('wasm');
  await tf.ready();
  return tf;
}

// C[rows, N] = op(A)[rows, :]·op(B), i-k-j order with the layout's strides.
function plainGemm(M, rows, N, K, A, ta, B, tb, C) {
  C.fill(0);
  for (let i = 0; i < rows; i++) {
    const ci = i * N;
    for (let k = 0; k < K; k++) {
      const a = ta ? A[k * M + i] : A[i * K + k];
      if (tb) for (let j = 0; j < N; j++) C[ci + j] += a * B[j * K + k];
      else {
        const bk = k * N;
        for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
      }
    }
  }
}

// Which kernel the driver in assembly/gemm_f32.ts picks for the shape.
function kernelFor(M, N, tb) {
  if (M <= 4 && tb) return 'gemm_f32_4x4t__simd';
  if (M === 1) return 'gemm_f32_1x32__simd';
  if (M <= 4 && N >= 32) return 'gemm_f32_4x512_axpy__simd';
  return 'gemm_f32_4x8__simd';
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const fmt = (x) => x.toFixed(1);

/**
 * V8 first runs wasm in its baseline tier and swaps in optimized code only
 * for later calls, so every path (each packing layout, the gemv kernels) is
 * exercised before anything is timed.
 */
export async function warmUp(sg) {
  const shapes = [[192, 192, 192], [1, 256, 256], [3, 256, 256], [64, 10, 300]];
  const start = performance.now();
  while (performance.now() - start < 1500) {
    for (const [M, N, K] of shapes) {
      for (const { ta, tb } of FORMS) {
        const a = sg.ones(ta ? [K, M] : [M, K]), b = sg.ones(tb ? [N, K] : [K, N]);
        sg.matmul(a, b, { transposeA: ta, transposeB: tb }).dispose();
        a.dispose(); b.dispose();
      }
    }
  }
}

export async function run({ sg, quick }) {
  const tf = await loadTfjsWasm();
  await warmUp(sg);
  const shapes = quick
    ? [[512, 512, 512], [128, 1024, 784]]
    : [
        [512, 512, 512],
        // MLP 784-1024-1024-10 at batch 128: forward, input gradients, weight gradients
        [128, 1024, 784], [128, 10, 1024], [128, 784, 1024], [128, 1024, 10], [784, 1024, 128], [10, 1024, 128],
        // batch-1 and small-batch inference
        [1, 1024, 784], [4, 1024, 784], [16, 1024, 784],
      ];
  const rounds = quick ? 1 : 3;
  const rows = [];
  for (const [M, N, K] of shapes) {
    const flops = 2 * M * N * K;
    const aData = seededFloats(M * K, 1), bData = seededFloats(K * N, 2);
    const per = FORMS.map(() => ({ sg: [], tf: [] }));
    const sgIn = FORMS.map((f) => [sg.tensor(aData, f.ta ? [K, M] : [M, K]), sg.tensor(bData, f.tb ? [N, K] : [K, N])]);
    const tfIn = FORMS.map((f) => [tf.tensor(aData, f.ta ? [K, M] : [M, K]), tf.tensor(bData, f.tb ? [N, K] : [K, N])]);
    // Rounds interleave the forms so machine noise hits them alike; each
    // entry is the median over rounds of the harness median.
    for (let r = 0; r < rounds; r++) {
      for (let f = 0; f < FORMS.length; f++) {
        const { ta, tb } = FORMS[f];
        const [a, b] = sgIn[f];
        const m = await measure(() => sg.matmul(a, b, { transposeA: ta, transposeB: tb }).dispose());
        per[f].sg.push(m.medianMs);
        per[f].best = Math.min(per[f].best ?? Infinity, m.minMs);
        const [x, y] = tfIn[f];
        per[f].tf.push((await measure(() => tf.matMul(x, y, ta, tb).dispose(), { minRepeats: 5, minTimeMs: 300 })).medianMs);
      }
    }
    for (const [a, b] of sgIn) { a.dispose(); b.dispose(); }
    for (const [x, y] of tfIn) { x.dispose(); y.dispose(); }
    // plain JS on a subset of rows: the rate per flop is what matters
    const sub = Math.min(M, Math.max(1, Math.floor(2 ** 24 / (N * K))));
    const C = new Float32Array(sub * N);
    const base = gops(flops, median(per[0].sg));
    for (let f = 0; f < FORMS.length; f++) {
      const { ta, tb } = FORMS[f];
      per[f].js = (await measure(() => plainGemm(M, sub, N, K, aData, ta, bData, tb, C), { warmup: 1, minRepeats: 3, minTimeMs: 100 })).medianMs;
    }
    for (let f = 0; f < FORMS.length; f++) {
      const sgG = gops(flops, median(per[f].sg));
      const tfG = gops(flops, median(per[f].tf));
      const jsG = gops(2 * sub * N * K, per[f].js);
      rows.push({
        kernel: kernelFor(M, N, FORMS[f].tb),
        'shape MxNxK': `${M}x${N}x${K}`,
        form: FORMS[f].name,
        'snapgrad GFLOP/s': fmt(sgG),
        'snapgrad best': fmt(gops(flops, per[f].best)),
        'vs plain form': `${((sgG / base) * 100).toFixed(0)}%`,
        'tfjs-wasm GFLOP/s': fmt(tfG),
        'plain JS GFLOP/s': jsG.toFixed(2),
        'ratio vs tfjs': `${(sgG / tfG).toFixed(2)}x`,
      });
    }
  }
  return rows;
}
