// VQ nearest code: snapgrad vqNearest against tfjs-wasm in its best form
// (‖c‖² − 2 z·c with a pre-transposed codebook, then argMin) and plain JS.
import { measure, seededFloats } from '../harness.mjs';
import { loadTfjsWasm, warmUp } from './f32.mjs';

export const title = 'VQ nearest code (squared L2, lowest index on ties), vectors/s = N / median time';
export const columns = ['kernel', 'N x D, K codes', 'snapgrad vec/s', 'snapgrad GFLOP/s', 'tfjs-wasm vec/s', 'plain JS vec/s', 'ratio vs tfjs'];

function plainNearest(z, rows, c, K, D, out) {
  for (let i = 0; i < rows; i++) {
    let best = Infinity, bi = 0;
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let d = 0; d < D; d++) {
        const t = z[i * D + d] - c[k * D + d];
        s += t * t;
      }
      if (s < best) { best = s; bi = k; }
    }
    out[i] = bi;
  }
}

const fmtK = (x) => `${Math.round(x / 1000)}k`;

export async function run({ sg, quick }) {
  const tf = await loadTfjsWasm();
  await warmUp(sg);
  {
    const z = sg.ones([64, 16]), c = sg.ones([40, 16]);
    const start = performance.now();
    while (performance.now() - start < 500) sg.vqNearest(z, c).dispose();
    z.dispose(); c.dispose();
  }
  const shapes = quick ? [[4096, 64, 512]] : [[4096, 64, 512], [2048, 8, 128], [1024, 256, 1024]];
  const rows = [];
  for (const [N, D, K] of shapes) {
    const zData = seededFloats(N * D, 3), cData = seededFloats(K * D, 4);
    const z = sg.tensor(zData, [N, D]), c = sg.tensor(cData, [K, D]);
    const sgMs = (await measure(() => sg.vqNearest(z, c).dispose())).medianMs;
    // agreement check between the two libraries, outside the timing
    const ours = sg.vqNearest(z, c);
    z.dispose(); c.dispose();

    const tz = tf.tensor(zData, [N, D]);
    const tc = tf.tensor(cData, [K, D]);
    const tcT = tf.transpose(tc); // tfjs's matMul is slow with a transposed operand
    const norms = tf.reshape(tf.sum(tf.square(tc), 1), [1, K]);
    const tfNearest = () => tf.tidy(() => tf.argMin(tf.sub(norms, tf.mul(tf.matMul(tz, tcT), 2)), 1));
    const tfMs = (await measure(() => tfNearest().dispose(), { minRepeats: 5 })).medianMs;
    const theirs = tfNearest();
    const agree = (() => {
      const a = ours.dataSync(), b = theirs.dataSync();
      let same = 0;
      for (let i = 0; i < N; i++) same += a[i] === b[i] ? 1 : 0;
      return same / N;
    })();
    ours.dispose(); theirs.dispose();
    for (const t of [tz, tc, tcT, norms]) t.dispose();

    const sub = Math.min(N, 256);
    const out = new Int32Array(sub);
    const jsMs = (await measure(() => plainNearest(zData, sub, cData, K, D, out), { warmup: 1, minRepeats: 3, minTimeMs: 100 })).medianMs;

    const sgRate = N / (sgMs / 1000), tfRate = N / (tfMs / 1000), jsRate = sub / (jsMs / 1000);
    rows.push({
      kernel: 'vq_nearest_4x8__simd',
      'N x D, K codes': `${N} x ${D}, K=${K}`,
      'snapgrad vec/s': fmtK(sgRate),
      'snapgrad GFLOP/s': ((2 * N * K * D) / (sgMs * 1e6)).toFixed(1),
      'tfjs-wasm vec/s': fmtK(tfRate),
      'plain JS vec/s': fmtK(jsRate),
      'ratio vs tfjs': `${(sgRate / tfRate).toFixed(2)}x (same index: ${(agree * 100).toFixed(1)}%)`,
    });
  }
  return rows;
}
