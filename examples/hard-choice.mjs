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
import { parseFlags } from './common.mjs';

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

  // Batches are made on the fly (fit frees each with its step); the input carries the step for gumbel's noise seed.
  const stream = (count, first) => ({
    length: count,
    *[Symbol.iterator]() {
      for (let i = 0; i < count; i++) {
        const batch = makeBatch(first + i, flags.batch);
        yield { x: { ...batch, step: i }, y: batch.labels };
      }
    },
  });
  const history = sg.fit((x) => forward(x, true, x.step).out, stream(flags.steps, flags.seed * 1_000_000), { optimizer, loss: 'crossEntropy', progress: false });
  // Held-out evaluation with a hard choice: accuracy, and how often the chosen slot is the true one.
  const held = sg.evaluate((x) => forward(x, false, 0), stream(20, 7_000_000), {
    metrics: {
      accuracy: ({ out }, labels) => sg.metrics.accuracy(out, labels),
      slot: ({ choice }, _labels, batch) => {
        const chosen = sg.argmax(choice, { axis: 1 }).dataSync();
        return chosen.filter((c, b) => c === batch.x.truth[b]).length / chosen.length;
      },
    },
  });
  optimizer.dispose();
  selector.dispose();
  classifier.dispose();
  return { accuracy: 100 * held.accuracy, slot: 100 * held.slot, seconds: history.trainSeconds };
}

console.log(`hidden rule: label = argmax of the first ${C} features of slot P[argmax(key)], P = [${P}]; chance: ${(100 / C).toFixed(1)}% accuracy, ${100 / K}% right slot\n`);
for (const mode of ['argmax', 'gumbel', 'soft']) {
  const r = run(mode);
  console.log(`${mode.padEnd(7)} test accuracy ${r.accuracy.toFixed(1)}%  right slot ${r.slot.toFixed(1)}%  (${flags.steps} steps in ${r.seconds.toFixed(1)} s)`);
}
