// Conv threads: the binary CNN of examples/mnist-bcnn.mjs (binaryCnn) at 1 and
// 2 threads in one process, interleaved (rounds alternate the order of the
// thread counts so machine noise hits both alike): one Adam training step at
// batch 128, and the frozen model's inference at batch 64.
//   node bench/conv-threads.mjs [--quick] [--rounds N]
//   node bench/conv-threads.mjs --profile train|infer --threads N   (a loop for node --cpu-prof)
import os from 'node:os';
import * as sg from '../dist/snapgrad.js';
import { binaryCnn } from '../examples/common.mjs';
import { formatTable, measure, seededFloats } from './harness.mjs';

const argv = process.argv.slice(2);
const flag = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : fallback; };
const quick = argv.includes('--quick');
const TRAIN_BATCH = 128, INFER_BATCH = 64;
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

/** Integer pixels 0..255 and labels 0..9, the same for every thread count. */
function pixels(n, seed) {
  return Float32Array.from(seededFloats(n * 784, seed), (v) => Math.floor((v + 1) * 128) % 256);
}

function trainer() {
  const model = binaryCnn();
  model.train();
  const optimizer = new sg.optim.Adam(model.parameters(), { lr: 0.005 });
  const x = sg.keep(sg.tensor(pixels(TRAIN_BATCH, 21), [TRAIN_BATCH, 784]));
  const y = sg.keep(sg.tensor(Int32Array.from(seededFloats(TRAIN_BATCH, 22), (v) => Math.floor((v + 1) * 5) % 10), [TRAIN_BATCH], { dtype: 'int32' }));
  return () => sg.tidy(() => {
    const loss = sg.crossEntropy(model.forward(x), y);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    return loss.item();
  });
}

function inferrer() {
  const model = binaryCnn();
  // A few steps so batch-norm statistics and thresholds are not the initial ones.
  const step = trainer();
  model.eval();
  for (let i = 0; i < 2; i++) step();
  const frozen = sg.freeze(model, { example: sg.zeros([1, 784]), uint8Inputs: true });
  const x = sg.keep(sg.tensor(pixels(INFER_BATCH, 23), [INFER_BATCH, 784]));
  return () => sg.tidy(() => { frozen.predict(x).dispose(); });
}

async function main() {
  const info = await sg.init({ threads: 2 });
  const profile = flag('--profile', '');
  if (profile) {
    await sg.setThreads(Number(flag('--threads', '1')));
    const fn = profile === 'train' ? trainer() : inferrer();
    for (let i = 0; i < (profile === 'train' ? 30 : 200); i++) fn();
    return;
  }
  const cases = { [`mnist-bcnn training step (batch ${TRAIN_BATCH})`]: trainer(), [`mnist-bcnn frozen inference (batch ${INFER_BATCH})`]: inferrer() };
  const rounds = Number(flag('--rounds', quick ? '2' : '5'));
  const times = {};
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [1, 2] : [2, 1];
    for (const t of order) {
      await sg.setThreads(t);
      for (const [name, fn] of Object.entries(cases)) {
        const m = await measure(fn, { minTimeMs: quick ? 200 : 600 });
        (times[`${name}|${t}`] ??= []).push(m.medianMs);
      }
    }
  }
  const rows = [];
  for (const name of Object.keys(cases)) {
    const one = median(times[`${name}|1`]);
    for (const t of [1, 2]) {
      const ms = median(times[`${name}|${t}`]);
      rows.push({ case: name, threads: t, 'ms (median)': ms.toFixed(2), 'vs 1 thread': (one / ms).toFixed(2) + 'x' });
    }
  }
  console.log(`snapgrad ${info.build}, ${rounds} rounds, load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  console.log(formatTable(rows, ['case', 'threads', 'ms (median)', 'vs 1 thread']));
}

await main();
