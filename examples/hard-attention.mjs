// Hard attention: read ONE of 8 positions. Each example is a sequence of 8
// tokens (vocabulary 16) with one position marked; the label is the marked
// token's class (token mod 4), so the 7 other tokens are distractors. The model
// embeds the tokens (nn.Embedding), scores every position with a Linear layer
// on [batch, 8, features], picks one position with ste.argmaxOneHot (a one-hot
// choice forward, the softmax gradient backward) and classifies the picked
// embedding. It takes two inputs, forward(tokens, marks).
//
//   node examples/hard-attention.mjs [--steps 600] [--batch 64] [--seed 1] [--lr 0.02]
import * as sg from '../dist/snapgrad.js';
import { parseFlags } from './common.mjs';

const flags = parseFlags({ steps: 600, batch: 64, seed: 1, lr: 0.02, test: 2000, scale: 4 });
await sg.init();
const { nn, optim } = sg;
const L = 8; // positions
const V = 16; // vocabulary
const C = 4; // classes
const D = 16; // embedding width

/** A batch: tokens int32 [B, L], marks float32 [B, L] (one-hot), labels int32 [B], from a seeded LCG. */
function makeBatch(seed, B) {
  let s = (seed * 2654435761 + 12345) >>> 0;
  const next = (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
  const tokens = new Int32Array(B * L);
  const marks = new Float32Array(B * L);
  const labels = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < L; j++) tokens[b * L + j] = next(V);
    const at = next(L);
    marks[b * L + at] = 1;
    labels[b] = tokens[b * L + at] % C;
  }
  return { tokens: sg.tensor(tokens, [B, L], { dtype: 'int32' }), marks: sg.tensor(marks, [B, L]), labels: sg.tensor(labels) };
}

class HardAttention extends nn.Module {
  constructor(seed) {
    super();
    this.embed = this.registerModule('embed', new nn.Embedding(V, D, { seed }));
    // Scores a position from its token and its mark: [B, L, D + 1] -> [B, L, 1].
    this.scorer = this.registerModule('scorer', new nn.Linear(D + 1, 1, { seed: seed + 1 }));
    this.classifier = this.registerModule('classifier', new nn.Sequential(new nn.Linear(D, 32, { seed: seed + 2 }), new nn.ReLU(), new nn.Linear(32, C, { seed: seed + 3 })));
  }

  /** Returns the class logits [B, C] and the one-hot choice [B, L]. */
  forward(tokens, marks) {
    const [B] = tokens.shape;
    const e = this.embed.call(tokens);
    // Bounded scores (tanh, times SCALE) keep the softmax gradient of the choice from vanishing, so a scorer
    // that leans on token identity early keeps being pulled toward the mark (the only position that always pays).
    const raw = this.scorer.call(sg.concat([e, marks.reshape([B, L, 1])], 2)).reshape([B, L]);
    const scores = sg.mul(sg.tanh(raw), flags.scale);
    const choice = sg.ste.argmaxOneHot(scores);
    const picked = sg.sum(sg.mul(choice.reshape([B, L, 1]), e), { axis: 1 });
    return { logits: this.classifier.call(picked), choice };
  }
}

const model = new HardAttention(flags.seed * 10);
const optimizer = new optim.Adam(model.parameters(), { lr: flags.lr });
const stream = (count, first, B) => ({
  length: count,
  *[Symbol.iterator]() {
    for (let i = 0; i < count; i++) {
      const batch = makeBatch(first + i, B);
      yield { x: batch, y: batch.labels };
    }
  },
});
const history = sg.fit((x) => model.call(x.tokens, x.marks).logits, stream(flags.steps, flags.seed * 1_000_000, flags.batch), { optimizer, loss: 'crossEntropy', progress: false });

// Held-out examples (other seeds): accuracy, and how often the marked position is the one chosen.
model.eval();
const testBatches = Math.max(1, Math.round(flags.test / 500));
const held = sg.evaluate((x) => model.call(x.tokens, x.marks), stream(testBatches, 9_000_000, Math.min(500, flags.test)), {
  metrics: {
    accuracy: ({ logits }, labels) => sg.metrics.accuracy(logits, labels),
    marked: ({ choice }, _labels, batch) => sg.tidy(() => {
      const chosen = sg.argmax(choice, { axis: 1 }).dataSync();
      const truth = sg.argmax(batch.x.marks, { axis: 1 }).dataSync();
      return chosen.filter((c, b) => c === truth[b]).length / chosen.length;
    }),
  },
});
optimizer.dispose();
model.dispose();
console.log(`chance: ${(100 / C).toFixed(1)}% accuracy, ${(100 / L).toFixed(1)}% marked position`);
console.log(`test accuracy ${(100 * held.accuracy).toFixed(1)}%  marked position chosen ${(100 * held.marked).toFixed(1)}%  (${flags.steps} steps in ${history.trainSeconds.toFixed(1)} s)`);
