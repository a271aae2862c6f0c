// Inference of the binary CNN of bench/cnn-network.mjs (the first mnist-bcnn
// network, trained briefly on MNIST): snapgrad's frozen model (packed binary
// convs, max-pool on packed bits, batch norm + sign folded into integer
// thresholds, uint8 first layer) against the float version of the same
// network in tfjs-wasm (NHWC) and onnxruntime-web (NCHW, wasm EP), all single
// threaded, in this process, at batch 1 and 64.
//
// The float network computes the same function with float32 arithmetic:
//   conv 3x3 same (±1 weights as float32, no bias) on float pixels 0..255
//   -> max-pool 2x2 -> batch norm (eval: running mean/var) -> sign
//   -> conv 3x3 same (±1 weights) -> max-pool 2x2 -> batch norm -> sign
//   -> flatten -> dense 3136->256 (±1 weights, batch norm folded into weights
//   and bias) -> sign -> dense 256->10 (float weights and bias).
// Batch norm sits after max-pool, so it cannot fold into the conv weights; tfjs
// runs it as tf.batchNorm (one FusedBatchNorm kernel), ONNX as
// BatchNormalization. Sign(0) is 0 in the peers (snapgrad's binarize gives +1):
// the table reports how often the classes agree.
// Writes bench/results/inference-cnn.json.
//   node bench/inference-cnn.mjs [--steps 60] [--quick] [--threads N] (default: the build's pool size)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import * as sg from '../dist/snapgrad.js';
import { loadDataset, mnistLoader } from '../examples/common.mjs';
import { benchCnn } from './cnn-network.mjs';
import { agreement, argmaxRows, formatTable, measure, median } from './harness.mjs';
import { floatCnnModel, loadOrt } from './onnx.mjs';
import { loadTfjsWasm } from './suites/f32.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const DEFAULT_STEPS = 60;
const STEPS = args.includes('--steps') ? Number(args[args.indexOf('--steps') + 1]) : quick ? 10 : DEFAULT_STEPS;
const BATCHES = [1, 64];
const CHECK_IMAGES = quick ? 128 : 1000;
const THREADS = args.includes('--threads') ? Number(args[args.indexOf('--threads') + 1]) : undefined;

/** The host's CPU as /proc/cpuinfo names it, with family/model (VMs often give only a generic model name). */
export function cpuDescription() {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8').split('\n\n')[0];
    const get = (key) => info.match(new RegExp(`^${key}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim();
    return [get('vendor_id'), get('model name'), `(family ${get('cpu family')} model ${get('model')} stepping ${get('stepping')})`].filter(Boolean).join(' ');
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

/** The machine line every CNN benchmark records: CPU, cores, load averages, uptime's line. */
export function machineInfo() {
  return { cpu: cpuDescription(), cores: os.cpus().length, node: process.version, loadavg: os.loadavg().map((v) => Number(v.toFixed(2))) };
}

/** snapgrad's thread count: sg.info().threads when the build has a worker pool, else 1. */
export function snapgradThreads(info) {
  return typeof info.threads === 'number' ? info.threads : 1;
}

/**
 * harness.measure plus the process CPU time of each timed call (median, ms):
 * on a loaded machine wall time includes the waits for a core, CPU time does
 * not (it does include V8's background threads: GC, compilation).
 */
export async function measureWithCpu(fn, options) {
  const cpu = [];
  const m = await measure(async () => {
    const c0 = process.cpuUsage();
    await fn();
    const d = process.cpuUsage(c0);
    cpu.push((d.user + d.system) / 1000);
  }, options);
  return { ...m, cpuMs: median(cpu.slice(-m.repeats)) };
}

function train(model, data, steps) {
  const optimizer = new sg.optim.Adam(model.parameters(), { lr: 0.005 });
  const loader = mnistLoader(data.trainX, data.trainY, { batchSize: 128, shuffle: true, seed: 7, dropLast: true });
  sg.fit(model, loader, { optimizer, loss: 'crossEntropy', epochs: Math.ceil(steps / loader.length), progress: false, onStep: (s) => s.globalStep < steps });
  model.eval();
}

const sign = (v) => (v >= 0 ? 1 : -1);

/**
 * The float network's parameters from the trained binary CNN: conv weights
 * HWIO (tfjs) and OIHW (ONNX) as ±1 floats, eval batch norm per conv stage,
 * dense layers [in, out] with the hidden batch norm folded in, the first dense
 * layer's rows in NHWC flatten order (tfjs) and NCHW order (ONNX).
 */
export function floatCnn(model) {
  const convs = model.layers.filter((m) => m instanceof sg.nn.BinaryConv2d);
  const norms2d = model.layers.filter((m) => m instanceof sg.nn.BatchNorm2d);
  const [hiddenLinear] = model.layers.filter((m) => m instanceof sg.nn.BinaryLinear);
  const [hiddenNorm] = model.layers.filter((m) => m instanceof sg.nn.BatchNorm1d);
  const [classifier] = model.layers.filter((m) => m instanceof sg.nn.Linear);
  const stages = convs.map((conv, i) => {
    const [kh, kw, cin, cout] = conv.weight.shape;
    const latent = conv.weight.dataSync();
    const hwio = Float32Array.from(latent, sign);
    const oihw = new Float32Array(hwio.length);
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let c = 0; c < cin; c++) for (let o = 0; o < cout; o++) {
      oihw[((o * cin + c) * kh + y) * kw + x] = hwio[((y * kw + x) * cin + c) * cout + o];
    }
    const bn = norms2d[i];
    return {
      hwio, oihw, hwioShape: [kh, kw, cin, cout], oihwShape: [cout, cin, kh, kw],
      bn: { scale: bn.weight.dataSync(), bias: bn.bias.dataSync(), mean: bn.runningMean.dataSync(), variance: bn.runningVar.dataSync(), eps: bn.eps },
    };
  });
  // Dense 1: ±1 weights [out, in] -> [in, out] scaled by the batch norm, bias beta - mean·s.
  const [hOut, hIn] = hiddenLinear.weight.shape;
  const latent = hiddenLinear.weight.dataSync();
  const mean = hiddenNorm.runningMean.dataSync(), variance = hiddenNorm.runningVar.dataSync();
  const gamma = hiddenNorm.weight.dataSync(), beta = hiddenNorm.bias.dataSync();
  const nhwc = new Float32Array(hIn * hOut), nchw = new Float32Array(hIn * hOut), b1 = new Float32Array(hOut);
  // The conv stack ends at [7, 7, C] (NHWC): feature (y, x, c) is NCHW feature (c, y, x).
  const C = stages[stages.length - 1].hwioShape[3];
  const side = Math.round(Math.sqrt(hIn / C));
  for (let o = 0; o < hOut; o++) {
    const s = gamma[o] / Math.sqrt(variance[o] + hiddenNorm.eps);
    b1[o] = beta[o] - mean[o] * s;
    for (let k = 0; k < hIn; k++) {
      const v = sign(latent[o * hIn + k]) * s;
      nhwc[k * hOut + o] = v;
      const c = k % C, yx = (k - c) / C;
      nchw[(c * side * side + yx) * hOut + o] = v;
    }
  }
  const [cOut, cIn] = classifier.weight.shape;
  const wc = classifier.weight.dataSync(), w2 = new Float32Array(cIn * cOut);
  for (let o = 0; o < cOut; o++) for (let k = 0; k < cIn; k++) w2[k * cOut + o] = wc[o * cIn + k];
  const b2 = classifier.bias ? classifier.bias.dataSync() : new Float32Array(cOut);
  return { stages, denseNhwc: [{ w: nhwc, b: b1 }, { w: w2, b: Float32Array.from(b2) }], denseNchw: [{ w: nchw, b: b1 }, { w: w2, b: Float32Array.from(b2) }] };
}

/** tfjs-wasm's float CNN, NHWC: conv2d, maxPool, batchNorm, sign, fused matMul + bias. */
function tfjsCnn(tf, float) {
  const stages = float.stages.map((s) => ({
    w: tf.tensor(s.hwio, s.hwioShape),
    bn: Object.fromEntries(['scale', 'bias', 'mean', 'variance'].map((k) => [k, tf.tensor(s.bn[k])])),
    eps: s.bn.eps,
  }));
  const dense = float.denseNhwc.map((l) => ({ w: tf.tensor(l.w, [l.w.length / l.b.length, l.b.length]), b: tf.tensor(l.b) }));
  const predict = (x) => tf.tidy(() => {
    let h = x;
    for (const s of stages) {
      h = tf.maxPool(tf.conv2d(h, s.w, 1, 'same'), 2, 2, 'valid');
      h = tf.sign(tf.batchNorm(h, s.bn.mean, s.bn.variance, s.bn.bias, s.bn.scale, s.eps));
    }
    h = tf.reshape(h, [h.shape[0], -1]);
    h = tf.sign(tf.fused.matMul({ a: h, b: dense[0].w, bias: dense[0].b }));
    return tf.fused.matMul({ a: h, b: dense[1].w, bias: dense[1].b });
  });
  const dispose = () => {
    for (const s of stages) { s.w.dispose(); for (const t of Object.values(s.bn)) t.dispose(); }
    for (const l of dense) { l.w.dispose(); l.b.dispose(); }
  };
  return { predict, dispose };
}

/**
 * Where the frozen model's time goes: each stage run alone on its real input
 * (the previous stage's output), median of `repeats` runs. All outputs are
 * freed by the one tidy around it.
 */
function stageProfile(frozen, x, repeats) {
  return sg.tidy(() => {
    let input = { kind: 'float', t: x };
    const out = [];
    for (const [i, stage] of frozen.stages.entries()) {
      const times = [];
      let result;
      for (let r = 0; r < repeats + 2; r++) {
        const t0 = performance.now();
        result = stage.run(input);
        if (r >= 2) times.push(performance.now() - t0);
      }
      out.push({ stage: i, type: stage.type, description: stage.description, ms: median(times) });
      input = result;
    }
    return out;
  });
}

/**
 * Runs the benchmark; returns { result, rows, check }. `check` is the frozen
 * vs eval-mode comparison on `CHECK_IMAGES` test images.
 */
export async function run({ steps = STEPS, quickRun = quick, log = console.log } = {}) {
  const info = await sg.init(THREADS === undefined ? undefined : { threads: THREADS });
  const threads = snapgradThreads(info);
  const t0 = performance.now();
  const data = await loadDataset('', { limitTrain: Math.max(steps, 1) * 128, limitTest: Math.max(CHECK_IMAGES, 64) });
  const model = benchCnn();
  train(model, data, steps);
  const trainSeconds = (performance.now() - t0) / 1000;
  const example = sg.keep(sg.zeros([1, 784]));
  const frozen = sg.freeze(model, { example, uint8Inputs: true });
  example.dispose();

  // The frozen model must give the eval-mode model's predictions.
  const check = sg.tidy(() => {
    const x = sg.cast(sg.slice(data.testX, [0, 0], [CHECK_IMAGES, -1]), 'float32');
    const evalLogits = model.forward(x);
    const frozenLogits = frozen.predict(x);
    const a = sg.argmax(evalLogits, { axis: 1 }).dataSync(), b = sg.argmax(frozenLogits, { axis: 1 }).dataSync();
    const ev = evalLogits.dataSync(), fv = frozenLogits.dataSync();
    let maxAbsDiff = 0;
    for (let i = 0; i < ev.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ev[i] - fv[i]));
    const labels = sg.slice(data.testY, [0], [CHECK_IMAGES]).dataSync();
    return { images: CHECK_IMAGES, identicalClasses: a.every((v, i) => v === b[i]), maxAbsLogitDiff: maxAbsDiff, accuracy: agreement(Array.from(b), Array.from(labels)) };
  });
  log(`frozen vs eval-mode on ${check.images} test images: classes ${check.identicalClasses ? 'identical' : 'DIFFER'}, max |logit diff| ${check.maxAbsLogitDiff.toExponential(2)}, accuracy ${(check.accuracy * 100).toFixed(1)}%`);

  const float = floatCnn(model);
  const tf = await loadTfjsWasm();
  const tfModel = tfjsCnn(tf, float);
  const ort = await loadOrt();
  const convs = float.stages.map((s) => ({ w: s.oihw, shape: s.oihwShape, bn: s.bn }));

  const rounds = quickRun ? 1 : 3;
  const rows = [];
  const raw = {};
  for (const B of BATCHES) {
    const xs = new Float32Array(B * 784);
    sg.tidy(() => xs.set(sg.slice(data.testX, [0, 0], [B, -1]).dataSync()));
    const labels = sg.tidy(() => sg.slice(data.testY, [0], [B]).dataSync());
    const sx = sg.keep(sg.tensor(xs, [B, 784]));
    const tx = tf.tensor(xs, [B, 28, 28, 1]);
    const session = await ort.InferenceSession.create(floatCnnModel(convs, float.denseNchw, B, [28, 28, 1]), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    // One input channel: NCHW [B, 1, 28, 28] holds the same bytes as NHWC [B, 28, 28, 1].
    const ox = new ort.Tensor('float32', xs, [B, 1, 28, 28]);
    const contenders = {
      'snapgrad frozen (packed bits)': () => { const y = frozen.predict(sx); const v = y.dataSync(); y.dispose(); return v; },
      'tfjs-wasm float (NHWC)': () => { const y = tfModel.predict(tx); const v = y.dataSync(); y.dispose(); return v; },
      'onnxruntime-web float (NCHW)': async () => (await session.run({ x: ox })).y.data,
    };
    const predictions = {};
    for (const [name, fn] of Object.entries(contenders)) predictions[name] = argmaxRows(await fn(), B, 10);
    const reference = predictions['snapgrad frozen (packed bits)'];
    const samples = Object.fromEntries(Object.keys(contenders).map((n) => [n, []]));
    const cpuSamples = Object.fromEntries(Object.keys(contenders).map((n) => [n, []]));
    // Rounds interleave the contenders so machine noise hits them alike.
    for (let r = 0; r < rounds; r++) {
      for (const [name, fn] of Object.entries(contenders)) {
        const m = await measureWithCpu(fn, quickRun ? { warmup: 1, minRepeats: 2, minTimeMs: 0 } : B === 1 ? { minRepeats: 30, minTimeMs: 300 } : { minRepeats: 7, minTimeMs: 500 });
        samples[name].push(m.medianMs);
        cpuSamples[name].push(m.cpuMs);
      }
    }
    const ms = Object.fromEntries(Object.entries(samples).map(([n, v]) => [n, median(v)]));
    const cpuMs = Object.fromEntries(Object.entries(cpuSamples).map(([n, v]) => [n, median(v)]));
    const ours = ms['snapgrad frozen (packed bits)'];
    const oursCpu = cpuMs['snapgrad frozen (packed bits)'];
    raw[B] = { ms, cpuMs, rounds: samples, cpuRounds: cpuSamples,
      cpuSpeedup: Object.fromEntries(Object.keys(cpuMs).filter((n) => !n.startsWith('snapgrad')).map((n) => [n, cpuMs[n] / oursCpu])), sameClassAsSnapgrad: Object.fromEntries(Object.keys(contenders).map((n) => [n, agreement(predictions[n], reference)])), speedup: Object.fromEntries(Object.keys(ms).filter((n) => !n.startsWith('snapgrad')).map((n) => [n, ms[n] / ours])) };
    for (const name of Object.keys(contenders)) {
      const isOurs = name.startsWith('snapgrad');
      rows.push({
        batch: B,
        implementation: name,
        threads: isOurs ? threads : 1,
        'ms (median)': ms[name].toFixed(3),
        'rounds (ms)': samples[name].map((v) => v.toFixed(3)).join(' / '),
        'samples/s': Math.round((B * 1000) / ms[name]).toLocaleString('en-US'),
        'snapgrad speedup': isOurs ? '' : `${(ms[name] / ours).toFixed(1)}x`,
        'CPU ms (median)': cpuMs[name].toFixed(3),
        'speedup in CPU time': isOurs ? '' : `${(cpuMs[name] / oursCpu).toFixed(1)}x`,
        'same class as snapgrad': `${(agreement(predictions[name], reference) * 100).toFixed(1)}%`,
        'accuracy on this batch': `${(agreement(predictions[name], labels) * 100).toFixed(1)}%`,
      });
    }
    raw[B].stages = stageProfile(frozen, sx, quickRun ? 1 : 15);
    sx.dispose();
    tx.dispose();
    await session.release();
  }
  frozen.dispose();
  tfModel.dispose();
  model.dispose();
  for (const t of Object.values(data)) t.dispose();

  const result = {
    date: new Date().toISOString(),
    machine: machineInfo(),
    threads: { snapgrad: threads, tfjs: 1, ort: 1 },
    model: 'benchCnn (bench/cnn-network.mjs, the first mnist-bcnn network): 28x28x1 -> bconv3x3 32 (uint8 pixels) -> maxpool2 -> bn -> sign -> bconv3x3 64 -> maxpool2 -> bn -> sign -> bdense 3136->256 -> bn -> sign -> dense 256->10',
    floatPeers: 'same network in float32: ±1 conv/dense weights as floats, float pixels 0..255, conv 3x3 same (zero padding) -> maxpool 2 -> batch norm (eval) -> sign, x2; flatten; dense (bn folded) -> sign -> dense',
    trainingSteps: steps,
    trainSeconds,
    frozenCheck: check,
    target: { speedup: 5 },
    byBatch: raw,
    rows,
  };
  return { result, rows, check, trainSeconds };
}

async function main() {
  const { result, rows, trainSeconds } = await run();
  console.log(`\n## Inference: binary CNN of npm run mnist-bcnn (trained ${STEPS} steps in ${trainSeconds.toFixed(0)} s), single thread; load ${result.machine.loadavg.join(' ')}\n`);
  console.log(formatTable(rows, Object.keys(rows[0])));
  for (const [B, { stages }] of Object.entries(result.byBatch)) {
    console.log(`\nsnapgrad frozen, batch ${B}, per stage (each run alone, median ms):`);
    console.log(formatTable(stages.map((st) => ({ ...st, ms: st.ms.toFixed(3) })), ['stage', 'type', 'description', 'ms']));
  }
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  // Quick or shortened runs do not replace the saved results BENCHMARKS.md uses.
  const out = new URL(quick || STEPS !== DEFAULT_STEPS ? './results/inference-cnn.tmp.json' : './results/inference-cnn.json', import.meta.url);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${out.pathname}`);
  if (!result.frozenCheck.identicalClasses) {
    console.error('the frozen model does not give the eval-mode model\'s classes');
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
