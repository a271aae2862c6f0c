// uint8 x 1-bit GEMM (the first layer of a BNN on raw pixels): snapgrad
// uint8BinaryMatmul against the same product as int8 GEMMs (snapgrad's
// int8Matmul with x - 128 and onnxruntime-web's MatMulInteger u8·s8 with the
// ±1 weights as int8), and plain JS on the packed bits, in this same process.
import { gops, measure } from '../harness.mjs';

const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
import { loadOrt, matMulIntegerModel } from '../onnx.mjs';

export const title = 'uint8 x 1-bit GEMM (GOP/s = 2·M·N·K / time, median after warm-up, 1 thread)';
export const columns = ['shape', 'snapgrad u8·1-bit', 'snapgrad s8·s8 (same product)', 'ort u8·s8 (±1 weights)', 'plain JS', 'snapgrad / ort', 'snapgrad ms'];

function pixels(n, seed) {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = s & 255;
  }
  return out;
}

/** Plain JS on packed bits: Σ x - 2·Σ_{bit set} x per output. */
function plainJs(x, M, K, bits, N, words) {
  const c = new Int32Array(M * N);
  for (let m = 0; m < M; m++) {
    let total = 0;
    for (let k = 0; k < K; k++) total += x[m * K + k];
    for (let n = 0; n < N; n++) {
      let neg = 0;
      for (let k = 0; k < K; k++) if ((bits[n * words + (k >>> 5)] >>> (k & 31)) & 1) neg += x[m * K + k];
      c[m * N + n] = total - 2 * neg;
    }
  }
  return c;
}

export async function run({ sg, quick }) {
  const ort = await loadOrt();
  const shapes = quick ? [[128, 1024, 784]] : [[128, 1024, 784], [1, 1024, 784], [512, 512, 512], [128, 1024, 1024]];
  const rows = [];
  for (const [M, N, K] of shapes) {
    const ops = 2 * M * N * K;
    const xd = pixels(M * K, 3);
    const x = sg.tensor(xd, [M, K], { dtype: 'uint8' });
    const wb = sg.tidy(() => sg.packBits(sg.randn([N, K], { seed: 4 })));
    const result = sg.uint8BinaryMatmul(x, wb);
    const got = result.dataSync();
    result.dispose();
    // The same product through int8 GEMMs: ±1 weights as int8 [N, K] (and [K, N] for ORT).
    const bits = wb.dataSync();
    const words = wb.shape[1];
    const w8 = new Int8Array(N * K), w8t = new Int8Array(K * N);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        const v = (bits[n * words + (k >>> 5)] >>> (k & 31)) & 1 ? -1 : 1;
        w8[n * K + k] = v;
        w8t[k * N + n] = v;
      }
    }
    const b8 = sg.tensor(w8, [N, K], { dtype: 'int8' });
    const xc = sg.tensor(Int8Array.from(xd, (v) => v - 128), [M, K], { dtype: 'int8' });
    const session = await ort.InferenceSession.create(matMulIntegerModel(M, N, K, 'uint8'), { executionProviders: ['wasm'] });
    const A = new ort.Tensor('uint8', xd, [M, K]);
    const B = new ort.Tensor('int8', w8t, [K, N]);
    const want = (await session.run({ A, B })).Y.data;
    if (got.some((v, i) => v !== want[i])) throw new Error(`u8b1 bench: snapgrad and onnxruntime differ at ${M}x${N}x${K}`);
    // Contenders interleaved over rounds (bursts of load on a shared machine hit all of them); median of round medians.
    const contenders = {
      ours: () => sg.uint8BinaryMatmul(x, wb).dispose(),
      s8: () => sg.int8Matmul(xc, b8, { transposeB: true }).dispose(),
      peer: () => session.run({ A, B }),
    };
    const samples = { ours: [], s8: [], peer: [] };
    for (let r = 0; r < (quick ? 1 : 3); r++) {
      for (const [name, fn] of Object.entries(contenders)) samples[name].push((await measure(fn)).medianMs);
    }
    const [ours, s8, peer] = ['ours', 's8', 'peer'].map((n) => ({ medianMs: median(samples[n]) }));
    await session.release();
    const js = await measure(() => plainJs(xd, M, K, bits, N, words), { warmup: 1, minRepeats: 3, minTimeMs: 0 });
    for (const t of [x, wb, b8, xc]) t.dispose();
    const g = gops(ops, ours.medianMs);
    const o = gops(ops, peer.medianMs);
    rows.push({
      shape: `${M}x${N}x${K}`,
      'snapgrad u8·1-bit': g.toFixed(1),
      'snapgrad s8·s8 (same product)': gops(ops, s8.medianMs).toFixed(1),
      'ort u8·s8 (±1 weights)': o.toFixed(1),
      'plain JS': gops(ops, js.medianMs).toFixed(2),
      'snapgrad / ort': `${(g / o).toFixed(2)}x`,
      'snapgrad ms': ours.medianMs.toFixed(3),
    });
  }
  return rows;
}
