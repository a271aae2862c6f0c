// One training step (forward, cross-entropy, backward, Adam update) of the
// binary CNN of bench/cnn-network.mjs (the first mnist-bcnn network) at batch
// 128, in snapgrad and in tfjs-core + tfjs-backend-wasm (1 thread, NHWC) with
// the straight-through estimators written with tf.customGrad, twice: the
// obvious way and hand-tuned. Same process, same batch, and the same initial
// weights (snapgrad's, copied into tfjs), so the first step's loss must agree
// across the three: the run checks it. Median of repeats after warm-up.
//
// tfjs-wasm registers no Conv2DBackpropFilter kernel (tf.grad of conv2d with
// respect to the filter throws on the wasm backend), so both tfjs variants
// wrap conv2d in a tf.customGrad. The obvious one takes the filter gradient
// from the wasm Conv3DBackpropFilterV2 kernel on a depth-1 volume (bench/conv.mjs
// does the same) and the input gradient from tf.conv2dTranspose, what
// tf.grad would call.
//
// variant 'obvious': tf.sign forward, clipped identity via tf.customGrad,
//   tf.matMul and tf.maxPool with tfjs's own gradients, batch norm from
//   tf.moments; every conv computes its input gradient.
// variant 'tuned': what the MLP's hand-tuned variant does (bench/training.mjs):
//   sign as one tf.step(x, -1), the clip mask as one tf.step, the dense
//   layers' gradients on explicitly transposed copies (tfjs-wasm's fast plain
//   GEMM path); and both conv gradients as forward tf.conv2d calls (XNNPACK):
//   dX a conv with the flipped, in/out-swapped filter, dW a conv of the
//   transposed padded input with the transposed dY (10-60x faster here than
//   conv2dTranspose and Conv3DBackpropFilterV2); the first conv computes no
//   input gradient. (A max-pool gradient from an equality mask was slower than
//   tfjs's MaxPoolGrad, so the pool keeps tfjs's own gradient.)
// Writes bench/results/training-cnn.json.  Usage: node bench/training-cnn.mjs [--quick]
import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as sg from '../dist/snapgrad.js';
import { benchCnn } from './cnn-network.mjs';
import { formatTable, median } from './harness.mjs';
import { machineInfo, measureWithCpu, snapgradThreads } from './inference-cnn.mjs';
import { adamStep, batch, loadTfjsTraining } from './training.mjs';

export const BATCH = 128;
export const LR = 0.005; // examples/mnist-bcnn.mjs's default
const EPS = 1e-5; // BatchNorm1d/2d's default
const MOMENTUM = 0.1;
const STEPS_PER_EPOCH = Math.floor(60000 / BATCH);
const quick = process.argv.includes('--quick');

/** The initial parameters of a benchCnn, laid out for tfjs (HWIO convs, [in, out] dense). */
function initialWeights(model) {
  const convs = model.layers.filter((m) => m instanceof sg.nn.BinaryConv2d);
  const [hidden] = model.layers.filter((m) => m instanceof sg.nn.BinaryLinear);
  const [classifier] = model.layers.filter((m) => m instanceof sg.nn.Linear);
  const transposed = (t) => {
    const [o, i] = t.shape, v = t.dataSync(), out = new Float32Array(o * i);
    for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) out[c * o + r] = v[r * i + c];
    return { data: out, shape: [i, o] };
  };
  return {
    convs: convs.map((c) => ({ data: Float32Array.from(c.weight.dataSync()), shape: c.weight.shape.slice() })),
    hidden: transposed(hidden.weight),
    classifier: transposed(classifier.weight),
    classifierBias: Float32Array.from(classifier.bias.dataSync()),
  };
}

/** snapgrad: benchCnn and Adam as npm run mnist-bcnn trains its network; returns a step function. */
function snapgradStep(data) {
  const model = benchCnn();
  const weights = initialWeights(model);
  model.train();
  const { step, dispose } = adamStep(sg, model, data, LR, BATCH);
  return { step, weights, dispose: () => { dispose(); model.dispose(); } };
}

/**
 * The binary CNN in tfjs (NHWC), from the given initial weights. Adam, then
 * the binary layers' latent weights clipped to [-1, 1] as snapgrad's
 * optimizer does. step(x, labels) trains on one batch (labels one-hot) and
 * returns the loss computed before the update.
 */
export function tfjsCnn(tf, init, variant) {
  const tuned = variant === 'tuned';
  const binary = [...init.convs, init.hidden].map((w) => tf.variable(tf.tensor(w.data, w.shape)));
  const classifier = tf.variable(tf.tensor(init.classifier.data, init.classifier.shape));
  const classifierBias = tf.variable(tf.tensor(init.classifierBias));
  const widths = [init.convs[0].shape[3], init.convs[1].shape[3], init.hidden.shape[1]];
  const bn = widths.map((n) => ({ gamma: tf.variable(tf.ones([n])), beta: tf.variable(tf.zeros([n])), mean: tf.variable(tf.zeros([n]), false), variance: tf.variable(tf.ones([n]), false) }));
  const vars = [...binary, classifier, classifierBias, ...bn.flatMap((p) => [p.gamma, p.beta])];

  const clippedMask = (v) => (tuned ? tf.step(tf.sub(1, tf.abs(v))) : tf.cast(tf.lessEqual(tf.abs(v), 1), 'float32'));
  const signSte = tf.customGrad((v, save) => {
    save([v]);
    return { value: tuned ? tf.step(v, -1) : tf.sign(v), gradFunc: (dy, [s]) => tf.mul(dy, clippedMask(s)) };
  });
  // dW of a stride-1 'same' conv: the wasm backend's one native filter-gradient kernel, on a depth-1 volume.
  const filterGrad = (x, dy, shape) => {
    const [n, h, w, c] = x.shape;
    const g = tf.engine().runKernel('Conv3DBackpropFilterV2',
      { x: tf.reshape(x, [n, 1, h, w, c]), dy: tf.reshape(dy, [n, 1, h, w, dy.shape[3]]) },
      { strides: [1, 1, 1], pad: 'same', filterShape: [1, ...shape] });
    return tf.reshape(g, shape);
  };
  // The tuned gradients of a stride-1 'same' 3x3 conv are plain forward convs (XNNPACK's fast path):
  // dX = conv(dY, W flipped in space with in/out swapped), and dW = conv of the padded input seen
  // as [C, H+2, W+2, N] with dY seen as a filter [H, W, N, O], giving [C, kh, kw, O].
  const inputGradTuned = (dy, w) => tf.conv2d(dy, tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]), 1, 'same');
  const filterGradTuned = (x, dy, [kh, kw]) => {
    const [ph, pw] = [(kh - 1) >> 1, (kw - 1) >> 1];
    const xp = tf.pad(x, [[0, 0], [ph, kh - 1 - ph], [pw, kw - 1 - pw], [0, 0]]);
    return tf.transpose(tf.conv2d(tf.transpose(xp, [3, 1, 2, 0]), tf.transpose(dy, [1, 2, 0, 3]), 1, 'valid'), [1, 2, 0, 3]);
  };
  const conv = tf.customGrad((x, w, save) => {
    save([x, w]);
    return {
      value: tf.conv2d(x, w, 1, 'same'),
      gradFunc: (dy, [sx, sw]) => (tuned ? [inputGradTuned(dy, sw), filterGradTuned(sx, dy, sw.shape)] : [tf.conv2dTranspose(dy, sw, sx.shape, 1, 'same'), filterGrad(sx, dy, sw.shape)]),
    };
  });
  // The first conv of the tuned variant: the pixels need no gradient.
  const firstConv = (x) => tf.customGrad((w, save) => {
    save([w]);
    return { value: tf.conv2d(x, w, 1, 'same'), gradFunc: (dy, [sw]) => filterGradTuned(x, dy, sw.shape) };
  });
  const matMulPlain = tf.customGrad((a, b, save) => {
    save([tf.transpose(a), tf.transpose(b)]);
    return { value: tf.matMul(a, b), gradFunc: (dy, [aT, bT]) => [tf.matMul(dy, bT), tf.matMul(aT, dy)] };
  });

  const batchNorm = (h, p) => {
    const axes = h.rank === 4 ? [0, 1, 2] : [0];
    const { mean, variance } = tf.moments(h, axes);
    const n = h.size / h.shape[h.rank - 1];
    // Running statistics as BatchNorm1d/2d keep them (unbiased batch variance).
    p.mean.assign(tf.add(tf.mul(p.mean, 1 - MOMENTUM), tf.mul(mean, MOMENTUM)));
    p.variance.assign(tf.add(tf.mul(p.variance, 1 - MOMENTUM), tf.mul(variance, (MOMENTUM * n) / (n - 1))));
    return tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, EPS))), p.gamma), p.beta);
  };

  const forward = (x, labels) => {
    let h = x;
    for (let l = 0; l < 2; l++) {
      const w = signSte(binary[l]);
      h = tuned && l === 0 ? firstConv(x)(w) : conv(h, w);
      h = signSte(batchNorm(tf.maxPool(h, 2, 2, 'valid'), bn[l]));
    }
    h = tf.reshape(h, [h.shape[0], -1]);
    const w = signSte(binary[2]);
    h = signSte(batchNorm(tuned ? matMulPlain(h, w) : tf.matMul(h, w), bn[2]));
    const logits = tf.add(tuned ? matMulPlain(h, classifier) : tf.matMul(h, classifier), classifierBias);
    return tf.losses.softmaxCrossEntropy(labels, logits);
  };
  const optimizer = tf.train.adam(LR, 0.9, 0.999, 1e-8);
  const step = (x, labels) => {
    const cost = optimizer.minimize(() => forward(x, labels), true, vars);
    tf.tidy(() => { for (const w of binary) w.assign(tf.clipByValue(w, -1, 1)); });
    const value = cost.dataSync()[0];
    cost.dispose();
    return value;
  };
  const dispose = () => {
    for (const t of [...vars, ...bn.flatMap((p) => [p.mean, p.variance])]) t.dispose();
    optimizer.dispose();
  };
  return { step, dispose };
}

function tfjsStep(tf, data, init, variant) {
  const model = tfjsCnn(tf, init, variant);
  const x = tf.tensor(data.x, [BATCH, 28, 28, 1]);
  const labels = tf.oneHot(tf.tensor(data.y, [BATCH], 'int32'), 10);
  return { step: () => model.step(x, labels), dispose: () => { model.dispose(); x.dispose(); labels.dispose(); } };
}

/**
 * Runs the benchmark. The cross-check (result.check): from the same weights on the same batch,
 * every contender's first loss agrees with snapgrad's, and each one's second loss is lower.
 */
export async function run({ quickRun = quick } = {}) {
  const info = await sg.init();
  const threads = snapgradThreads(info);
  const tf = await loadTfjsTraining();
  const data = batch();
  const ours = snapgradStep(data);
  const contenders = [
    { name: 'snapgrad', threads, ...ours },
    { name: 'tfjs-wasm hand-tuned', threads: 1, ...tfjsStep(tf, data, ours.weights, 'tuned') },
    { name: 'tfjs-wasm obvious', threads: 1, ...tfjsStep(tf, data, ours.weights, 'obvious') },
  ];
  // Two checked steps each: the first loss depends on the forward pass only, the second also on the
  // first step's gradients and update. Quick runs time these two steps and nothing more.
  const checkSteps = contenders.map((c) => [0, 1].map(() => {
    const t0 = performance.now(), c0 = process.cpuUsage();
    const loss = c.step();
    const d = process.cpuUsage(c0);
    return { loss, ms: performance.now() - t0, cpuMs: (d.user + d.system) / 1000 };
  }));
  const firstLosses = Object.fromEntries(contenders.map((c, i) => [c.name, checkSteps[i][0].loss]));
  const secondLosses = Object.fromEntries(contenders.map((c, i) => [c.name, checkSteps[i][1].loss]));
  const rounds = quickRun ? 0 : 3;
  const samples = Object.fromEntries(contenders.map((c, i) => [c.name, quickRun ? [checkSteps[i][1].ms] : []]));
  const cpuSamples = Object.fromEntries(contenders.map((c, i) => [c.name, quickRun ? [checkSteps[i][1].cpuMs] : []]));
  const losses = { ...secondLosses };
  // Rounds interleave the contenders so machine noise hits them alike. The obvious tfjs variant
  // takes seconds per step: a single sample per round keeps the run within a few minutes.
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) {
      const slow = c.name.endsWith('obvious');
      const m = await measureWithCpu(() => { losses[c.name] = c.step(); }, slow ? { warmup: 0, minRepeats: 1, maxRepeats: 1, minTimeMs: 0 } : { warmup: 1, minRepeats: 5, minTimeMs: 2000, maxRepeats: 40 });
      samples[c.name].push(m.medianMs);
      cpuSamples[c.name].push(m.cpuMs);
    }
  }
  for (const c of contenders) c.dispose();
  const ms = Object.fromEntries(contenders.map((c) => [c.name, median(samples[c.name])]));
  const cpuMs = Object.fromEntries(contenders.map((c) => [c.name, median(cpuSamples[c.name])]));
  const rows = contenders.map((c) => ({
    implementation: c.name,
    threads: c.threads,
    'ms/step (median)': ms[c.name].toFixed(1),
    'rounds (ms)': samples[c.name].map((v) => v.toFixed(1)).join(' / '),
    'snapgrad speedup': c.name === 'snapgrad' ? '1.00x' : `${(ms[c.name] / ms.snapgrad).toFixed(2)}x`,
    'CPU ms/step (median)': cpuMs[c.name].toFixed(1),
    'speedup in CPU time': c.name === 'snapgrad' ? '1.00x' : `${(cpuMs[c.name] / cpuMs.snapgrad).toFixed(2)}x`,
    'epoch, extrapolated (s)': ((ms[c.name] * STEPS_PER_EPOCH) / 1000).toFixed(0),
    'losses of steps 1, 2': `${firstLosses[c.name].toFixed(4)}, ${secondLosses[c.name].toFixed(4)}`,
    'loss after the run': losses[c.name].toFixed(3),
  }));
  // The cross-check. tfjs's tuned variant has snapgrad's forward pass exactly (sign as step(x, -1) is
  // -1 at 0 where binarize gives +1, but an exact 0 does not occur here); tf.sign(0) is 0, which moves
  // the obvious variant's loss slightly when a batch-norm output is exactly 0 (integer sums do that).
  // Later losses are not compared: max-pool routes the gradient of tied maxima (frequent on integer
  // sums) differently in each library, and Adam's first step is ±lr on every nonzero gradient.
  const check = {
    firstLossesAgree: Math.abs(firstLosses['tfjs-wasm hand-tuned'] - firstLosses.snapgrad) <= 1e-3 * firstLosses.snapgrad
      && Math.abs(firstLosses['tfjs-wasm obvious'] - firstLosses.snapgrad) <= 1e-2 * firstLosses.snapgrad,
    allLearn: contenders.every((c) => Number.isFinite(secondLosses[c.name]) && secondLosses[c.name] < firstLosses[c.name]),
  };
  const result = {
    check,
    date: new Date().toISOString(),
    machine: machineInfo(),
    threads: { snapgrad: threads, tfjs: 1 },
    model: 'benchCnn (bench/cnn-network.mjs, the first mnist-bcnn network): bconv3x3 1->32 (uint8 pixels) -> maxpool2 -> bn -> sign -> bconv3x3 32->64 -> maxpool2 -> bn -> sign -> bdense 3136->256 -> bn -> sign -> dense 256->10; clipped STE; Adam lr 0.005',
    batch: BATCH,
    msPerStep: ms,
    rounds: samples,
    cpuMsPerStep: cpuMs,
    cpuRounds: cpuSamples,
    firstLosses,
    secondLosses,
    speedup: { vsTfjsTuned: ms['tfjs-wasm hand-tuned'] / ms.snapgrad, vsTfjsObvious: ms['tfjs-wasm obvious'] / ms.snapgrad },
    cpuSpeedup: { vsTfjsTuned: cpuMs['tfjs-wasm hand-tuned'] / cpuMs.snapgrad, vsTfjsObvious: cpuMs['tfjs-wasm obvious'] / cpuMs.snapgrad },
    target: { vsTfjsTuned: 3 },
    rows,
  };
  return { result, rows, firstLosses, secondLosses };
}

async function main() {
  const { result, rows } = await run();
  console.log(`\n## Training step: binary CNN of npm run mnist-bcnn, batch ${BATCH}, Adam (single thread); load ${result.machine.loadavg.join(' ')}\n`);
  console.log(formatTable(rows, Object.keys(rows[0])));
  console.log(`\nAn epoch = ${STEPS_PER_EPOCH} steps x the median step: an extrapolation (no data loading, shuffling or evaluation).`);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  // A quick run does not replace the saved results BENCHMARKS.md uses.
  const out = new URL(quick ? './results/training-cnn.tmp.json' : './results/training-cnn.json', import.meta.url);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${out.pathname}`);
  if (!result.check.firstLossesAgree || !result.check.allLearn) {
    console.error(`cross-check failed: ${JSON.stringify(result.check)} (first losses ${JSON.stringify(result.firstLosses)}, second ${JSON.stringify(result.secondLosses)})`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
