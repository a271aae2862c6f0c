// int8 GEMM: snapgrad int8Matmul (s8·s8 -> s32) against onnxruntime-web's
// MatMulInteger (wasm execution provider, 1 thread) in s8·s8 and u8·s8, in
// this same process. The ONNX models are tiny protobufs (bench/onnx.mjs).
import { gops, measure } from '../harness.mjs';
import { loadOrt, matMulIntegerModel } from '../onnx.mjs';

export const title = 'int8 GEMM (GOP/s = 2·M·N·K / time, median after warm-up, 1 thread)';
export const columns = ['shape', 'snapgrad s8·s8', 'ort s8·s8', 'ort u8·s8', 'snapgrad / ort u8·s8', 'snapgrad ms'];

function int8Data(n, seed, unsigned) {
  const out = unsigned ? new Uint8Array(n) : new Int8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = unsigned ? s & 255 : (s & 255) - 128;
  }
  return out;
}

export async function run({ sg, quick }) {
  const ort = await loadOrt();
  const shapes = quick ? [[512, 512, 512]] : [[512, 512, 512], [128, 1024, 784], [128, 1024, 1024], [128, 10, 1024], [1, 1024, 1024], [1, 1024, 784], [256, 256, 4096]];
  const rows = [];
  for (const [M, N, K] of shapes) {
    const ops = 2 * M * N * K;
    const ad = int8Data(M * K, 1, false);
    const bd = int8Data(N * K, 2, false);
    const a = sg.tensor(ad, [M, K], { dtype: 'int8' });
    const b = sg.tensor(bd, [N, K], { dtype: 'int8' }); // weights [N, K], the usual layout
    const ours = await measure(() => sg.int8Matmul(a, b, { transposeB: true }).dispose());
    const peer = {};
    for (const aType of ['int8', 'uint8']) {
      const session = await ort.InferenceSession.create(matMulIntegerModel(M, N, K, aType), { executionProviders: ['wasm'] });
      const A = new ort.Tensor(aType, aType === 'int8' ? ad : int8Data(M * K, 1, true), [M, K]);
      // B as [K, N] int8 (MatMulInteger has no transposed form).
      const B = new ort.Tensor('int8', int8Data(K * N, 2, false), [K, N]);
      if (aType === 'int8') {
        // Same inputs, same answer: the peer computes what we compute.
        const want = (await session.run({ A, B })).Y.data;
        const bk = sg.tensor(B.data, [K, N], { dtype: 'int8' });
        const got = sg.int8Matmul(a, bk);
        const g = got.dataSync();
        got.dispose();
        bk.dispose();
        if (g.some((v, i) => v !== want[i])) throw new Error(`int8 bench: snapgrad and onnxruntime differ at ${M}x${N}x${K}`);
      }
      const r = await measure(() => session.run({ A, B }));
      peer[aType] = gops(ops, r.medianMs);
      await session.release();
    }
    a.dispose();
    b.dispose();
    const g = gops(ops, ours.medianMs);
    rows.push({
      shape: `${M}x${N}x${K}`,
      'snapgrad s8·s8': g.toFixed(1),
      'ort s8·s8': peer.int8.toFixed(1),
      'ort u8·s8': peer.uint8.toFixed(1),
      'snapgrad / ort u8·s8': `${(g / peer.uint8).toFixed(2)}x`,
      'snapgrad ms': ours.medianMs.toFixed(3),
    });
  }
  return rows;
}
