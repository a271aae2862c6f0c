// The main job's training run in tfjs-wasm, measured end to end: the same
// binary MLP (bench/training.mjs's hand-tuned or obvious tfjs model), the same
// bundled MNIST, batch, shuffling, Adam and cosine schedule as
// examples/mnist-bnn.mjs, for --epochs (default 10, the schedule DESIGN.md's
// 98.12% figure comes from). Prints test accuracy per epoch and the wall time
// from the start (data loading included); writes bench/results/tfjs-mnist.json.
//   node bench/tfjs-mnist.mjs [--epochs 10] [--variant tuned|obvious] [--limit-train N]
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import * as sg from '../dist/snapgrad.js';
import { loadDataset, parseFlags } from '../examples/common.mjs';
import { BATCH, LR, loadTfjsTraining, tfjsModel } from './training.mjs';

const flags = parseFlags({ epochs: 10, variant: 'tuned', seed: 1, limitTrain: 0 });
const start = performance.now();
await sg.init();
const tf = await loadTfjsTraining();
// snapgrad's loader reads the bundled IDX files; the pixels go to tfjs as raw values 0..255, as in the main job.
const data = await loadDataset('', { limitTrain: flags.limitTrain });
const trainX = data.trainX.dataSync(), trainY = data.trainY.dataSync();
const testX = tf.tensor(Float32Array.from(data.testX.dataSync()), data.testX.shape), testY = data.testY.dataSync();
const nTrain = data.trainX.shape[0];
for (const t of Object.values(data)) t.dispose();
// The sample orders of examples/mnist-bnn.mjs's DataLoader with the same seed (they depend on n, seed and epoch only).
const orders = new sg.data.DataLoader(new Int32Array(nTrain), { shuffle: true, seed: flags.seed });

const model = tfjsModel(tf, flags.variant);
const stepsPerEpoch = Math.floor(nTrain / BATCH);
const totalSteps = flags.epochs * stepsPerEpoch;
// optim.CosineLR as the main job uses it: lr·0.01 at the end.
const lrAt = (step) => LR * 0.01 + (LR - LR * 0.01) * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps));

function testAccuracy() {
  let correct = 0;
  for (let i = 0; i < testY.length; i += 1000) {
    const size = Math.min(1000, testY.length - i);
    const predicted = tf.tidy(() => tf.argMax(model.predict(tf.slice(testX, [i, 0], [size, -1])), 1).dataSync());
    for (let j = 0; j < size; j++) correct += predicted[j] === testY[i + j] ? 1 : 0;
  }
  return (100 * correct) / testY.length;
}

const epochs = [];
const xBatch = new Float32Array(BATCH * 784);
const yBatch = new Int32Array(BATCH);
let step = 0;
for (let epoch = 1; epoch <= flags.epochs; epoch++) {
  const t0 = performance.now();
  // The same orders as examples/mnist-bnn.mjs with the same seed.
  const order = orders.order(epoch - 1);
  let lossSum = 0;
  for (let s = 0; s < stepsPerEpoch; s++) {
    for (let r = 0; r < BATCH; r++) {
      const i = order[s * BATCH + r];
      xBatch.set(trainX.subarray(i * 784, i * 784 + 784), r * 784);
      yBatch[r] = trainY[i];
    }
    const x = tf.tensor(xBatch, [BATCH, 784]);
    const xT = tf.transpose(x);
    const labels = tf.tidy(() => tf.oneHot(tf.tensor(yBatch, [BATCH], 'int32'), 10));
    lossSum += model.step(x, xT, labels, lrAt(step++));
    for (const t of [x, xT, labels]) t.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const test = testAccuracy();
  epochs.push({ epoch, loss: lossSum / stepsPerEpoch, testAccuracy: test, seconds, msPerStep: (1000 * seconds) / stepsPerEpoch, elapsedSeconds: (performance.now() - start) / 1000 });
  console.log(`epoch ${epoch}/${flags.epochs}  loss ${(lossSum / stepsPerEpoch).toFixed(4)}  test ${test.toFixed(2)}%  ${((1000 * seconds) / stepsPerEpoch).toFixed(1)} ms/step  elapsed ${Math.round((performance.now() - start) / 1000)} s`);
}
model.dispose();
testX.dispose();
const wall = (performance.now() - start) / 1000;
const final = epochs[epochs.length - 1];
console.log(`tfjs-wasm ${flags.variant}: test accuracy ${final.testAccuracy.toFixed(2)}% after ${flags.epochs} epochs in ${Math.round(wall)} s`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const full = flags.epochs === 10 && flags.limitTrain === 0 && flags.variant === 'tuned';
const out = new URL(full ? './results/tfjs-mnist.json' : './results/tfjs-mnist.tmp.json', import.meta.url);
writeFileSync(out, JSON.stringify({
  date: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadavg: os.loadavg() },
  threads: { tfjs: 1 }, // pinned by loadTfjsWasm (setThreadsCount(1))
  variant: flags.variant, epochs, wallSeconds: wall, batch: BATCH,
}, null, 2) + '\n');
console.log(`wrote ${out.pathname}`);
