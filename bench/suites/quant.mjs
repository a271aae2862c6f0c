// Rounding and quantization kernels (G elements/s = n / median time): snapgrad
// against tfjs-wasm's own ops, onnxruntime-web's QuantizeLinear / Sign (wasm
// EP, 1 thread; its run() also copies the output out of its heap) and plain JS,
// in this same process, contenders interleaved over rounds.
import { measure, seededFloats } from '../harness.mjs';
import { loadOrt, quantizeLinearModel, signModel } from '../onnx.mjs';
import { loadTfjsWasm } from './f32.mjs';

export const title = 'Rounding and quantization (G elements/s = n / median time, 1 thread)';
export const columns = ['kernel', 'n', 'snapgrad', 'tfjs-wasm', 'onnxruntime-web', 'plain JS', 'snapgrad / best peer'];

const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

/** Round half to even, as every snapgrad rounding op does. */
function roundHalfEven(v) {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export async function run({ sg, quick }) {
  const tf = await loadTfjsWasm();
  const ort = await loadOrt();
  const rows = [];
  for (const n of quick ? [1 << 20] : [1 << 16, 1 << 20]) {
    const data = Float32Array.from(seededFloats(n, 21), (v) => v * 8);
    const x = sg.keep(sg.tensor(data, [n / 1024, 1024]));
    const tx = tf.tensor(data, [n / 1024, 1024]);
    const ox = new ort.Tensor('float32', data, [n]);
    const out = new Float32Array(n);
    const q8 = new Int8Array(n);
    const bits = new Int32Array(n / 32);
    const qSession = await ort.InferenceSession.create(quantizeLinearModel(n, 0.05, 0), { executionProviders: ['wasm'] });
    const signSession = await ort.InferenceSession.create(signModel(n), { executionProviders: ['wasm'] });
    // Same semantics (half to even, saturating at [-128, 127]): check the peer's answer once.
    const ours = sg.quantizeInt8(x, { scale: 0.05, zeroPoint: 0 });
    const theirs = (await qSession.run({ x: ox })).y.data;
    if (ours.dataSync().some((v, i) => v !== theirs[i])) throw new Error('quant bench: quantizeInt8 and QuantizeLinear differ');
    ours.dispose();
    const kernels = {
      'quantizeInt8 (f32 -> int8)': {
        snapgrad: () => sg.quantizeInt8(x, { scale: 0.05, zeroPoint: 0 }).dispose(),
        tfjs: () => tf.tidy(() => tf.cast(tf.clipByValue(tf.round(tf.div(tx, 0.05)), -128, 127), 'int32')).dispose(),
        ort: () => qSession.run({ x: ox }),
        js: () => { for (let i = 0; i < n; i++) q8[i] = Math.max(-128, Math.min(127, roundHalfEven(data[i] / 0.05))); },
      },
      'ste.quantize forward (4-bit fake-quant)': {
        snapgrad: () => sg.noGrad(() => sg.ste.quantize(x, { bits: 4, scale: 0.5 })).dispose(),
        tfjs: () => tf.tidy(() => tf.mul(tf.clipByValue(tf.round(tf.div(tx, 0.5)), -8, 7), 0.5)).dispose(),
        js: () => { for (let i = 0; i < n; i++) out[i] = Math.fround(Math.max(-8, Math.min(7, roundHalfEven(Math.fround(data[i] / 0.5)))) * 0.5); },
      },
      'ste.sign forward': {
        snapgrad: () => sg.noGrad(() => sg.ste.sign(x)).dispose(),
        tfjs: () => tf.sign(tx).dispose(),
        ort: () => signSession.run({ x: ox }),
        js: () => { for (let i = 0; i < n; i++) out[i] = Math.sign(data[i]); },
      },
      'round (half to even)': {
        snapgrad: () => sg.round(x).dispose(),
        tfjs: () => tf.round(tx).dispose(),
        js: () => { for (let i = 0; i < n; i++) out[i] = roundHalfEven(data[i]); },
      },
      'packBits (binarize and pack)': {
        snapgrad: () => sg.packBits(x).dispose(),
        js: () => {
          bits.fill(0);
          for (let i = 0; i < n; i++) if (data[i] < 0) bits[i >>> 5] |= 1 << (i & 31);
        },
      },
    };
    for (const [kernel, contenders] of Object.entries(kernels)) {
      const samples = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
      for (let r = 0; r < (quick ? 1 : 3); r++) {
        for (const [name, fn] of Object.entries(contenders)) samples[name].push((await measure(fn, { minTimeMs: 200 })).medianMs);
      }
      const rate = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, n / (median(v) * 1e6)]));
      const peers = ['tfjs', 'ort', 'js'].filter((k) => k in rate);
      const best = Math.max(...peers.map((k) => rate[k]));
      const fmt = (k) => (k in rate ? rate[k].toFixed(2) : '—');
      rows.push({
        kernel, n: n.toLocaleString('en-US'),
        snapgrad: fmt('snapgrad'), 'tfjs-wasm': fmt('tfjs'), 'onnxruntime-web': fmt('ort'), 'plain JS': fmt('js'),
        'snapgrad / best peer': `${(rate.snapgrad / best).toFixed(1)}x`,
      });
    }
    x.dispose();
    tx.dispose();
    await qSession.release();
    await signSession.release();
  }
  return rows;
}
