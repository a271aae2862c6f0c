// Inference of the binary MLP 784-1024-1024-10 (the npm start model, trained
// briefly on MNIST): snapgrad's frozen model (bit-packed weights, batch norm
// folded into thresholds) against the float model — the same network with
// float32 weights, batch norm folded into weights and bias, sign activations —
// in tfjs-wasm (fused matMul + bias) and in onnxruntime-web (MatMul/Add/Sign,
// wasm EP), all single-threaded, in this process, at batch 1 and 128.
// Writes bench/results/inference.json.
//   node bench/inference.mjs [--steps 200] [--quick]
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import * as sg from '../dist/snapgrad.js';
import { binaryMlp, loadDataset, mnistLoader } from '../examples/common.mjs';
import { agreement, argmaxRows, formatTable, measure, median } from './harness.mjs';
import { floatMlpModel, loadOrt } from './onnx.mjs';
import { loadTfjsWasm } from './suites/f32.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const STEPS = args.includes('--steps') ? Number(args[args.indexOf('--steps') + 1]) : quick ? 60 : 200;
const BATCHES = [1, 128];

// ---- the model ---------------------------------------------------------------
function train(model, data, steps) {
  const optimizer = new sg.optim.Adam(model.parameters(), { lr: 0.01 });
  const loader = mnistLoader(data.trainX, data.trainY, { batchSize: 128, shuffle: true, seed: 7, dropLast: true });
  sg.fit(model, loader, { optimizer, loss: 'crossEntropy', epochs: Math.ceil(steps / loader.length), progress: false, onStep: (s) => s.globalStep < steps });
  model.eval();
}

/**
 * The float model's parameters: ±1 weights (0 -> +1, as binarize) as float32
 * [in, out], with eval-mode batch norm folded in: W' = W·s, b' = beta - mean·s,
 * s = gamma / sqrt(var + eps).
 */
function floatLayers(model) {
  const linear = model.layers.filter((m) => m instanceof sg.nn.BinaryLinear);
  const norms = model.layers.filter((m) => m instanceof sg.nn.BatchNorm1d);
  return linear.map((lin, i) => {
    const bn = norms[i];
    const [fout, fin] = lin.weight.shape;
    const latent = lin.weight.dataSync();
    const mean = bn.runningMean.dataSync(), variance = bn.runningVar.dataSync();
    const gamma = bn.weight.dataSync(), beta = bn.bias.dataSync();
    const w = new Float32Array(fin * fout), b = new Float32Array(fout);
    for (let o = 0; o < fout; o++) {
      const s = gamma[o] / Math.sqrt(variance[o] + bn.eps);
      b[o] = beta[o] - mean[o] * s;
      for (let k = 0; k < fin; k++) w[k * fout + o] = (latent[o * fin + k] >= 0 ? 1 : -1) * s;
    }
    return { w, b };
  });
}

async function main() {
  const info = await sg.init({ threads: 1 }); // the single-thread tables; bench/threads.mjs measures threads
  const threads = { snapgrad: info.threads, tfjs: 1, ort: 1 }; // peers pinned: loadTfjsWasm, loadOrt
  const t0 = performance.now();
  const data = await loadDataset('', { limitTrain: STEPS * 128, limitTest: 1000 });
  const model = binaryMlp();
  train(model, data, STEPS);
  const trainSeconds = (performance.now() - t0) / 1000;
  // The same trained weights with a first layer that does not declare uint8 inputs: its frozen form
  // keeps float pixels (BinaryConnect sign-controlled adds).
  const floatInputs = binaryMlp({ uint8Inputs: false });
  floatInputs.loadStateDict(model.stateDict());
  floatInputs.eval();
  const frozen = {
    'snapgrad frozen (float pixels)': sg.freeze(floatInputs, { integerInputMax: 255 }),
    'snapgrad frozen (uint8 pixels)': sg.freeze(model, { uint8Inputs: true }),
  };
  floatInputs.dispose();
  const layers = floatLayers(model);

  const tf = await loadTfjsWasm();
  const tfLayers = layers.map((l) => ({ w: tf.tensor(l.w, [l.w.length / l.b.length, l.b.length]), b: tf.tensor(l.b) }));
  const tfPredict = (x) => tf.tidy(() => {
    let h = x;
    tfLayers.forEach((l, i) => {
      h = tf.fused.matMul({ a: h, b: l.w, bias: l.b });
      if (i < tfLayers.length - 1) h = tf.sign(h);
    });
    return h;
  });
  const ort = await loadOrt();

  const rounds = quick ? 1 : 3;
  const rows = [];
  const raw = {};
  for (const B of BATCHES) {
    const xs = new Float32Array(B * 784);
    sg.tidy(() => xs.set(sg.slice(data.testX, [0, 0], [B, -1]).dataSync()));
    const labels = sg.tidy(() => sg.slice(data.testY, [0], [B]).dataSync());
    const sx = sg.keep(sg.tensor(xs, [B, 784]));
    const tx = tf.tensor(xs, [B, 784]);
    const session = await ort.InferenceSession.create(floatMlpModel(layers, B), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const ox = new ort.Tensor('float32', xs, [B, 784]);
    const contenders = {
      ...Object.fromEntries(Object.entries(frozen).map(([name, f]) => [name, () => { const y = f.predict(sx); const v = y.dataSync(); y.dispose(); return v; }])),
      'tfjs-wasm float': () => { const y = tfPredict(tx); const v = y.dataSync(); y.dispose(); return v; },
      'onnxruntime-web float': async () => (await session.run({ x: ox })).y.data,
    };
    // Every contender computes the same network: check the predicted classes agree.
    const predictions = {};
    for (const [name, fn] of Object.entries(contenders)) predictions[name] = argmaxRows(await fn(), B, 10);
    const reference = predictions['snapgrad frozen (float pixels)'];
    const samples = Object.fromEntries(Object.keys(contenders).map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, fn] of Object.entries(contenders)) {
        const m = await measure(fn, B === 1 ? { minRepeats: 50, minTimeMs: 300 } : { minRepeats: 9, minTimeMs: 400 });
        samples[name].push(m.medianMs);
      }
    }
    const ms = Object.fromEntries(Object.entries(samples).map(([n, v]) => [n, median(v)]));
    const best = Math.min(ms['snapgrad frozen (float pixels)'], ms['snapgrad frozen (uint8 pixels)']);
    raw[B] = { ms, rounds: samples };
    for (const name of Object.keys(contenders)) {
      const ours = name.startsWith('snapgrad');
      rows.push({
        batch: B,
        implementation: name,
        'ms (median)': ms[name].toFixed(3),
        'rounds (ms)': samples[name].map((v) => v.toFixed(3)).join(' / '),
        'samples/s': Math.round((B * 1000) / ms[name]).toLocaleString('en-US'),
        'best snapgrad speedup': ours ? '' : `${(ms[name] / best).toFixed(1)}x`,
        'same class as snapgrad': `${(agreement(predictions[name], reference) * 100).toFixed(1)}%`,
        'accuracy on this batch': `${(agreement(predictions[name], labels) * 100).toFixed(1)}%`,
        threads: threads[ours ? 'snapgrad' : name.startsWith('tfjs') ? 'tfjs' : 'ort'],
      });
    }
    sx.dispose();
    tx.dispose();
    await session.release();
  }
  for (const f of Object.values(frozen)) f.dispose();
  for (const l of tfLayers) { l.w.dispose(); l.b.dispose(); }

  const columns = Object.keys(rows[0]);
  console.log(`\n## Inference: binary MLP 784-1024-1024-10 (trained ${STEPS} steps on MNIST in ${trainSeconds.toFixed(0)} s), single thread\n`);
  console.log(formatTable(rows, columns));
  const result = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadavg: os.loadavg() },
    model: '784-1024-1024-10 binary MLP; peers run the float32 model (±1 weights as float, batch norm folded, sign activations)',
    threads,
    trainingSteps: STEPS,
    byBatch: raw,
    rows,
  };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  // Quick or shortened runs do not replace the saved results the page and BENCHMARKS.md use.
  const out = new URL(quick || STEPS !== 200 ? './results/inference.tmp.json' : './results/inference.json', import.meta.url);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${out.pathname}`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
