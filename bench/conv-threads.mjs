// Conv threads: the binary CNN of bench/cnn-network.mjs (benchCnn) at 1 and
// 2 threads in one process, interleaved (rounds alternate the order of the
// thread counts, and of the builds, so machine noise hits all alike): one Adam
// training step at batch 128, the frozen model's inference at batch 64, and
// an f32 GEMM as the control (already split before this change).
// With --base OLD/dist, that build runs beside this one (before/after).
//   node bench/conv-threads.mjs [--base OLD/dist] [--quick] [--rounds N]
//   node bench/conv-threads.mjs --profile train|infer --threads N   (a loop for node --cpu-prof)
import os from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchCnn } from './cnn-network.mjs';
import { formatTable, measure, median, seededFloats } from './harness.mjs';

const argv = process.argv.slice(2);
const flag = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : fallback; };
const quick = argv.includes('--quick');
const TRAIN_BATCH = 128, INFER_BATCH = 64;

/** Integer pixels 0..255 and labels 0..9, the same for every thread count. */
function pixels(n, seed) {
  return Float32Array.from(seededFloats(n * 784, seed), (v) => Math.floor((v + 1) * 128) % 256);
}

function trainer(sg, model = benchCnn({ lib: sg })) {
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

function inferrer(sg) {
  const model = benchCnn({ lib: sg });
  // A few steps so batch-norm statistics and thresholds are not the initial ones.
  const step = trainer(sg, model);
  for (let i = 0; i < 2; i++) step();
  model.eval();
  const frozen = sg.freeze(model, { example: sg.zeros([1, 784]), uint8Inputs: true });
  const x = sg.keep(sg.tensor(pixels(INFER_BATCH, 23), [INFER_BATCH, 784]));
  return () => sg.tidy(() => { frozen.predict(x).dispose(); });
}

/** The control: an f32 GEMM that threads already split; if it gains nothing, no second core was free. */
function gemm(sg) {
  const a = sg.keep(sg.tensor(seededFloats(128 * 784, 24), [128, 784])), b = sg.keep(sg.tensor(seededFloats(784 * 1024, 25), [784, 1024]));
  return () => sg.matmul(a, b).dispose();
}

async function load(dir) {
  const sg = await import(pathToFileURL(resolve(dir, 'snapgrad.js')).href);
  await sg.init({ threads: 2 });
  return sg;
}

async function main() {
  const base = flag('--base', '');
  const builds = { after: await load(new URL('../dist', import.meta.url).pathname) };
  if (base) builds.before = await load(base);
  const profile = flag('--profile', '');
  if (profile) {
    const sg = builds.after;
    await sg.setThreads(Number(flag('--threads', '1')));
    const fn = profile === 'train' ? trainer(sg) : inferrer(sg);
    for (let i = 0; i < (profile === 'train' ? 30 : 200); i++) fn();
    return;
  }
  const caseNames = [`mnist-bcnn training step (batch ${TRAIN_BATCH})`, `mnist-bcnn frozen inference (batch ${INFER_BATCH})`, 'control: f32 matmul 128x784x1024'];
  const cases = Object.fromEntries(Object.entries(builds).map(([b, sg]) => [b, [trainer(sg), inferrer(sg), gemm(sg)]]));
  const rounds = Number(flag('--rounds', quick ? '2' : '5'));
  const times = {};
  const loads = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [1, 2] : [2, 1];
    const names = r % 2 === 0 ? Object.keys(builds) : Object.keys(builds).reverse();
    for (const b of names) {
      for (const t of order) {
        await builds[b].setThreads(t);
        for (let i = 0; i < caseNames.length; i++) {
          const m = await measure(cases[b][i], { minTimeMs: quick ? 200 : 600 });
          (times[`${b}|${i}|${t}`] ??= []).push(m.medianMs);
        }
      }
    }
    loads.push(os.loadavg()[0]);
  }
  const rows = [];
  caseNames.forEach((name, i) => {
    const ref = median(times[`${base ? 'before' : 'after'}|${i}|1`]);
    for (const b of Object.keys(builds)) {
      for (const t of [1, 2]) {
        const all = times[`${b}|${i}|${t}`];
        const ms = median(all);
        rows.push({ case: name, build: b, threads: t, 'ms (median)': ms.toFixed(2), 'rounds min-max': `${Math.min(...all).toFixed(1)}-${Math.max(...all).toFixed(1)}`,
          [`vs ${base ? 'before, ' : ''}1 thread`]: (ref / ms).toFixed(2) + 'x' });
      }
    }
  });
  console.log(`${rounds} rounds (each cell the median of the rounds' medians), 1-minute load average per round: ${loads.map((v) => v.toFixed(1)).join(' ')}`);
  console.log(formatTable(rows, ['case', 'build', 'threads', 'ms (median)', 'rounds min-max', `vs ${base ? 'before, ' : ''}1 thread`]));
}

await main();
