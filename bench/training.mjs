// One training step (forward, backward, Adam update) of the binary MLP
// 784-1024-1024-10 at batch 128 — binary weights, binary hidden activations,
// batch norm after every layer, clipped straight-through estimators — in
// snapgrad and in tfjs-core + tfjs-backend-wasm (1 thread) with the STE
// written with tf.customGrad, twice: the obvious way and hand-tuned.
// Same process, same batch; median of repeats after warm-up.
// Writes bench/results/training.json.  Usage: node bench/training.mjs [--quick]
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import * as sg from '../dist/snapgrad.js';
import { binaryMlp } from '../examples/common.mjs';
import { formatTable, measure, median, seededFloats } from './harness.mjs';
import { loadTfjsWasm } from './suites/f32.mjs';

export const SIZES = [784, 1024, 1024, 10];
export const BATCH = 128;
export const LR = 0.01;
const EPS = 1e-5; // BatchNorm1d's default
const MOMENTUM = 0.1;
// An MNIST epoch at batch 128, as examples/mnist-bnn.mjs counts it.
const STEPS_PER_EPOCH = Math.floor(60000 / BATCH);

const quick = process.argv.includes('--quick');

/** The same synthetic batch for every contender: integer pixels 0..255 and labels 0..9. */
export function batch() {
  const u = seededFloats(BATCH * SIZES[0], 11);
  const x = Float32Array.from(u, (v) => Math.floor((v + 1) * 128) % 256);
  const y = Int32Array.from(seededFloats(BATCH, 12), (v) => Math.floor((v + 1) * 5) % 10);
  return { x, y };
}

/**
 * A snapgrad training step of `model` (in train mode) on one fixed batch of `batchSize` MNIST rows: Adam at
 * `lr`, cross-entropy; step() returns the loss, dispose() frees the batch (not the model).
 */
export function adamStep(sg, model, data, lr, batchSize) {
  const optimizer = new sg.optim.Adam(model.parameters(), { lr });
  const x = sg.keep(sg.tensor(data.x, [batchSize, 784]));
  const y = sg.keep(sg.tensor(data.y, [batchSize], { dtype: 'int32' }));
  const step = () => sg.tidy(() => {
    const loss = sg.crossEntropy(model.forward(x), y);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    return loss.item();
  });
  return { step, dispose: () => { x.dispose(); y.dispose(); } };
}

/** snapgrad: the model of examples/mnist-bnn.mjs; returns a step function. */
export function snapgradStep(sg, data) {
  const model = binaryMlp();
  model.train();
  return adamStep(sg, model, data, LR, BATCH);
}

/**
 * tfjs: the same network. Latent weights are [in, out] (tfjs's dense layout),
 * Glorot-uniform clipped to [-1, 1] like BinaryLinear; Adam, then latent
 * weights clipped to [-1, 1] as snapgrad's optimizer does for binary layers.
 *
 * variant 'obvious': tf.sign in the forward pass, clipped-identity gradient via
 *   tf.customGrad, and tf.matMul with tfjs's own gradients (dX = dY·Wᵀ and
 *   dW = Xᵀ·dY run on tfjs-wasm's slow transposed path).
 * variant 'tuned': the sign is one tf.step(x, -1); the matmul is a customGrad
 *   whose backward pass multiplies explicitly transposed copies (dY·(Wᵀ),
 *   (Xᵀ)·dY), so every GEMM takes tfjs-wasm's fast plain path; the first layer
 *   computes no input gradient and takes the batch's transpose xT.
 *
 * step(x, xT, labels, lr?) trains on one batch (labels one-hot) and returns the
 * loss; predict(x) gives logits with batch norm in eval mode.
 */
export function tfjsModel(tf, variant) {
  const tuned = variant === 'tuned';
  const vars = [];
  const weights = [];
  const bn = [];
  for (let l = 0; l < 3; l++) {
    const [fin, fout] = [SIZES[l], SIZES[l + 1]];
    const bound = Math.min(1, Math.sqrt(6 / (fin + fout)));
    const w = tf.variable(tf.mul(tf.tensor(seededFloats(fin * fout, 100 + l), [fin, fout]), bound));
    const gamma = tf.variable(tf.ones([fout]));
    const beta = tf.variable(tf.zeros([fout]));
    weights.push(w);
    bn.push({ gamma, beta, mean: tf.variable(tf.zeros([fout]), false), variance: tf.variable(tf.ones([fout]), false) });
    vars.push(w, gamma, beta);
  }

  const clippedMask = (v) => (tuned ? tf.step(tf.sub(1, tf.abs(v))) : tf.cast(tf.lessEqual(tf.abs(v), 1), 'float32'));
  const signSte = tf.customGrad((v, save) => {
    save([v]);
    return { value: tuned ? tf.step(v, -1) : tf.sign(v), gradFunc: (dy, [s]) => tf.mul(dy, clippedMask(s)) };
  });
  const sign = (v) => (tuned ? tf.step(v, -1) : tf.sign(v));
  // A·B whose gradients use pre-transposed operands (the tuned variant).
  const matMulPlain = tf.customGrad((a, b, save) => {
    const bT = tf.transpose(b);
    const aT = tf.transpose(a);
    save([aT, bT]);
    return { value: tf.matMul(a, b), gradFunc: (dy, [sa, sb]) => [tf.matMul(dy, sb), tf.matMul(sa, dy)] };
  });
  // The first layer: the input needs no gradient and its transpose is given.
  const firstLayer = (x, xT) => tf.customGrad((w) => ({ value: tf.matMul(x, w), gradFunc: (dy) => tf.matMul(xT, dy) }));

  const batchNorm = (h, p) => {
    const { mean, variance } = tf.moments(h, 0);
    // Running statistics as BatchNorm1d keeps them (unbiased batch variance).
    const n = h.shape[0];
    p.mean.assign(tf.add(tf.mul(p.mean, 1 - MOMENTUM), tf.mul(mean, MOMENTUM)));
    p.variance.assign(tf.add(tf.mul(p.variance, 1 - MOMENTUM), tf.mul(variance, (MOMENTUM * n) / (n - 1))));
    return tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, EPS))), p.gamma), p.beta);
  };
  const batchNormEval = (h, p) => tf.add(tf.mul(tf.div(tf.sub(h, p.mean), tf.sqrt(tf.add(p.variance, EPS))), p.gamma), p.beta);

  const forward = (x, xT, labels) => {
    let h = x;
    for (let l = 0; l < 3; l++) {
      const wb = signSte(weights[l]);
      if (tuned) h = l === 0 ? firstLayer(x, xT)(wb) : matMulPlain(h, wb);
      else h = tf.matMul(h, wb);
      h = batchNorm(h, bn[l]);
      if (l < 2) h = signSte(h);
    }
    return tf.losses.softmaxCrossEntropy(labels, h);
  };
  const optimizer = tf.train.adam(LR, 0.9, 0.999, 1e-8);
  const step = (x, xT, labels, lr) => {
    if (lr !== undefined) optimizer.learningRate = lr;
    const cost = optimizer.minimize(() => forward(x, xT, labels), true, vars);
    tf.tidy(() => { for (const w of weights) w.assign(tf.clipByValue(w, -1, 1)); });
    const value = cost.dataSync()[0];
    cost.dispose();
    return value;
  };
  const predict = (x) => tf.tidy(() => {
    let h = x;
    for (let l = 0; l < 3; l++) {
      h = batchNormEval(tf.matMul(h, sign(weights[l])), bn[l]);
      if (l < 2) h = sign(h);
    }
    return h;
  });
  const dispose = () => {
    for (const t of [...vars, ...bn.flatMap((p) => [p.mean, p.variance])]) t.dispose();
    optimizer.dispose();
  };
  return { step, predict, dispose };
}

/** tfjsModel on one fixed batch (transposed once, outside the timed step). */
export function tfjsStep(tf, data, variant) {
  const model = tfjsModel(tf, variant);
  const x = tf.tensor(data.x, [BATCH, 784]);
  const xT = tf.transpose(x);
  const labels = tf.oneHot(tf.tensor(data.y, [BATCH], 'int32'), 10);
  return {
    step: () => model.step(x, xT, labels),
    dispose: () => {
      model.dispose();
      for (const t of [x, xT, labels]) t.dispose();
    },
  };
}

/**
 * tfjs-wasm with gradients. tfjs-core's Node bundle registers no gradient
 * functions (the @tensorflow/tfjs umbrella package does that), so the ESM
 * registration module is bundled here and loaded once; it registers into
 * tfjs's global registry, shared with the Node bundle.
 */
export async function loadTfjsTraining() {
  const tf = await loadTfjsWasm();
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  const built = await esbuild.build({ entryPoints: [entry], bundle: true, write: false, format: 'esm', platform: 'node', logLevel: 'error' });
  await import(`data:text/javascript;base64,${Buffer.from(built.outputFiles[0].text).toString('base64')}`);
  return tf;
}

async function main() {
  const info = await sg.init({ threads: 1 }); // single thread, like the tfjs-wasm contenders; bench/threads.mjs measures threads
  const tf = await loadTfjsTraining();
  const threads = { snapgrad: info.threads, tfjs: 1 }; // tfjs pinned by loadTfjsWasm (setThreadsCount(1))
  const data = batch();
  const contenders = [
    { name: 'snapgrad', make: () => snapgradStep(sg, data) },
    { name: 'tfjs-wasm hand-tuned', make: () => tfjsStep(tf, data, 'tuned') },
    { name: 'tfjs-wasm obvious', make: () => tfjsStep(tf, data, 'obvious') },
  ];
  const rounds = quick ? 1 : 3;
  const samples = Object.fromEntries(contenders.map((c) => [c.name, []]));
  const losses = {};
  const live = contenders.map((c) => ({ ...c, ...c.make() }));
  // Rounds interleave the contenders so machine noise hits them alike.
  for (let r = 0; r < rounds; r++) {
    for (const c of live) {
      const slow = c.name.endsWith('obvious');
      const m = await measure(() => { losses[c.name] = c.step(); }, { warmup: slow ? 1 : 5, minRepeats: slow ? 3 : 9, minTimeMs: slow ? 0 : 1500 });
      samples[c.name].push(m.medianMs);
    }
  }
  for (const c of live) c.dispose();
  const ms = Object.fromEntries(contenders.map((c) => [c.name, median(samples[c.name])]));
  const ours = ms.snapgrad;
  const rows = contenders.map((c) => ({
    implementation: c.name,
    'ms/step (median)': ms[c.name].toFixed(1),
    'rounds (ms)': samples[c.name].map((v) => v.toFixed(1)).join(' / '),
    'snapgrad speedup': c.name === 'snapgrad' ? '1.00x' : `${(ms[c.name] / ours).toFixed(2)}x`,
    '10 epochs, extrapolated (s)': ((ms[c.name] * STEPS_PER_EPOCH * 10) / 1000).toFixed(0),
    'loss after the run': losses[c.name].toFixed(3),
    threads: threads[c.name.startsWith('snapgrad') ? 'snapgrad' : 'tfjs'],
  }));
  const columns = Object.keys(rows[0]);
  console.log(`\n## Training step: binary MLP 784-1024-1024-10, batch ${BATCH}, Adam (single thread, ${info.runtime})\n`);
  console.log(formatTable(rows, columns));
  console.log(`\n10 epochs = ${STEPS_PER_EPOCH * 10} steps x the median step: an extrapolation (no data loading, shuffling or evaluation).`);
  const result = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadavg: os.loadavg() },
    model: '784-1024-1024-10 binary MLP, batch norm, clipped STE, Adam lr 0.01',
    threads,
    batch: BATCH,
    msPerStep: ms,
    rounds: samples,
    speedup: { vsTfjsTuned: ms['tfjs-wasm hand-tuned'] / ours, vsTfjsObvious: ms['tfjs-wasm obvious'] / ours },
    tenEpochsExtrapolatedSeconds: Object.fromEntries(contenders.map((c) => [c.name, (ms[c.name] * STEPS_PER_EPOCH * 10) / 1000])),
    rows,
  };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  // A quick run does not replace the saved results the page and BENCHMARKS.md use.
  const out = new URL(quick ? './results/training.tmp.json' : './results/training.json', import.meta.url);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${out.pathname}`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
