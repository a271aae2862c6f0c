// Learning a discrete choice. Each example has 4 slots of 8 features and a
// 4-dim key; the label is carried by ONE slot, j* = P[argmax(key)] for a fixed
// hidden permutation P. A selector maps the key to 4 logits, makes a hard
// choice, and a classifier reads the chosen slot. Three ways to train the choice:
//   argmax  — ste.argmaxOneHot: one-hot forward, softmax gradient backward
//   gumbel  — ste.gumbelSoftmax({ hard: true }): one-hot of a noisy sample, relaxed gradient
//   soft    — softmax relaxation in training (a weighted mix of slots), hard argmax at test
// All are evaluated with a hard choice; we report accuracy and how often the right slot is chosen.
//
//   node examples/hard-choice.mjs [--steps 1500] [--seed 1] [--batch 128]
import * as sg from '../dist/snapgrad.js';
import { now, parseFlags } from './common.mjs';

const flags = parseFlags({ steps: 1500, seed: 1, batch: 128, lr: 0.01 });
await sg.init();
const K = 4;
const F = 8;
const C = 3;
const P = [2, 0, 3, 1];

/** A batch: slots [B, K, F], keys [B, K], labels int32 [B], true slot per example. */
function makeBatch(seed, B) {
  return sg.tidy(() => {
    const slots = sg.randn([B, K, F], { seed: seed * 2 + 1 });
    const keys = sg.randn([B, K], { seed: seed * 2 + 2 });
    const s = slots.dataSync();
    const k = keys.dataSync();
    const labels = new Int32Array(B);
    const truth = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      let best = 0;
      for (let j = 1; j < K; j++) if (k[b * K + j] > k[b * K + best]) best = j;
      const j = P[best];
      truth[b] = j;
      let cls = 0;
      for (let c = 1; c < C; c++) if (s[(b * K + j) * F + c] > s[(b * K + j) * F + cls]) cls = c;
      labels[b] = cls;
    }
    return { slots, keys, labels: sg.tensor(labels), truth };
  });
}

function run(mode) {
  const { nn, optim } = sg;
  const selector = new nn.Linear(K, K, { seed: flags.seed * 10 + 1 });
  const classifier = new nn.Linear(F, C, { seed: flags.seed * 10 + 2 });
  const params = [...selector.parameters(), ...classifier.parameters()];
  const optimizer = new optim.Adam(params, { lr: flags.lr });

  const forward = (batch, training, step) => {
    const logits = sg.mul(selector.forward(batch.keys), 4);
    let choice;
    if (!training || mode === 'argmax') choice = sg.ste.argmaxOneHot(logits);
    else if (mode === 'gumbel') choice = sg.ste.gumbelSoftmax(logits, { tau: 1, hard: true, seed: flags.seed * 100003 + step });
    else choice = sg.softmax(logits);
    const picked = sg.sum(sg.mul(sg.reshape(choice, [-1, K, 1]), batch.slots), { axis: 1 });
    return { out: classifier.forward(picked), choice };
  };

  const t0 = now();
  for (let step = 0; step < flags.steps; step++) {
    sg.tidy(() => {
      const batch = makeBatch(flags.seed * 1_000_000 + step, flags.batch);
      const loss = sg.crossEntropy(forward(batch, true, step).out, batch.labels);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
    });
  }
  const seconds = (now() - t0) / 1000;
  // Held-out evaluation with a hard choice.
  let correct = 0;
  let rightSlot = 0;
  const n = 20 * flags.batch;
  for (let i = 0; i < 20; i++) {
    sg.tidy(() => {
      const batch = makeBatch(7_000_000 + i, flags.batch);
      const { out, choice } = sg.noGrad(() => forward(batch, false, 0));
      const pred = sg.argmax(out, { axis: 1 }).dataSync();
      const chosen = sg.argmax(choice, { axis: 1 }).dataSync();
      const labels = batch.labels.dataSync();
      for (let b = 0; b < flags.batch; b++) {
        correct += pred[b] === labels[b] ? 1 : 0;
        rightSlot += chosen[b] === batch.truth[b] ? 1 : 0;
      }
    });
  }
  optimizer.dispose();
  selector.dispose();
  classifier.dispose();
  return { accuracy: (100 * correct) / n, slot: (100 * rightSlot) / n, seconds };
}

console.log(`hidden rule: label = argmax of the first ${C} features of slot P[argmax(key)], P = [${P}]; chance: ${(100 / C).toFixed(1)}% accuracy, ${100 / K}% right slot\n`);
for (const mode of ['argmax', 'gumbel', 'soft']) {
  const r = run(mode);
  console.log(`${mode.padEnd(7)} test accuracy ${r.accuracy.toFixed(1)}%  right slot ${r.slot.toFixed(1)}%  (${flags.steps} steps in ${r.seconds.toFixed(1)} s)`);
}
