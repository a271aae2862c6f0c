// Binary GEMM: snapgrad binaryMatmul (XNOR-popcount on packed bits) against a
// plain-JS XNOR-popcount over Uint32Array rows and against snapgrad's own f32
// matmul of the same M, N, K. G binary-op/s = 2·M·N·K / time.
import { gops, measure, seededFloats } from '../harness.mjs';

export const title = 'Binary GEMM (G binary-op/s = 2·M·N·K / time, median after warm-up, 1 thread)';
export const columns = ['shape', 'snapgrad binary', 'plain JS', 'snapgrad f32 (GFLOP/s)', 'binary / f32', 'binary / JS', 'snapgrad ms'];

function popcount(v) {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** The obvious JS version: rows of 32-bit words, XOR, popcount, k - 2·pop. */
function jsBinaryMatmul(a, b, M, N, k, words, out) {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let pop = 0;
      for (let w = 0; w < words; w++) pop += popcount(a[m * words + w] ^ b[n * words + w]);
      out[m * N + n] = k - 2 * pop;
    }
  }
}

export async function run({ sg, quick }) {
  const shapes = quick ? [[512, 512, 4096]] : [[512, 512, 4096], [128, 1024, 1024], [128, 1024, 784], [128, 10, 1024], [1, 1024, 1024], [1, 1024, 784], [1, 10, 1024], [1024, 1024, 1024]];
  const rows = [];
  for (const [M, N, K] of shapes) {
    const ops = 2 * M * N * K;
    const a = sg.tensor(seededFloats(M * K, 1), [M, K]);
    const b = sg.tensor(seededFloats(N * K, 2), [N, K]);
    const ab = sg.packBits(a), bb = sg.packBits(b);
    const ours = await measure(() => sg.binaryMatmul(ab, bb, K).dispose());

    const words = ab.shape[1];
    const ja = new Uint32Array(ab.dataSync().buffer), jb = new Uint32Array(bb.dataSync().buffer);
    const jout = new Int32Array(M * N);
    const check = sg.binaryMatmul(ab, bb, K);
    jsBinaryMatmul(ja, jb, M, N, K, words, jout);
    if (check.dataSync().some((v, i) => v !== jout[i])) throw new Error(`binary bench: snapgrad and plain JS differ at ${M}x${N}x${K}`);
    check.dispose();
    const js = await measure(() => jsBinaryMatmul(ja, jb, M, N, K, words, jout), { warmup: 1, minRepeats: 3, minTimeMs: 200 });

    const f32 = await measure(() => sg.matmul(a, b, { transposeB: true }).dispose());
    for (const t of [a, b, ab, bb]) t.dispose();
    const g = gops(ops, ours.medianMs), gf = gops(ops, f32.medianMs), gj = gops(ops, js.medianMs);
    rows.push({
      shape: `${M}x${N}x${K}`,
      'snapgrad binary': g.toFixed(0),
      'plain JS': gj.toFixed(1),
      'snapgrad f32 (GFLOP/s)': gf.toFixed(1),
      'binary / f32': `${(g / gf).toFixed(1)}x`,
      'binary / JS': `${(g / gj).toFixed(0)}x`,
      'snapgrad ms': ours.medianMs.toFixed(3),
    });
  }
  return rows;
}
