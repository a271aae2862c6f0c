// The snapgrad demo: the straight-through estimator seed examples, then a
// tiny binary network (±1 weights and ±1 activations) trained with STE
// gradients on a synthetic task, printing the loss as it falls.
//   node examples/demo.mjs [--steps 400] [--seed 1]
import * as sg from '../dist/snapgrad.js';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const steps = option('--steps', 400);
const seed = option('--seed', 1);

const info = await sg.init();
console.log(`snapgrad on ${info.runtime} (${info.build})\n`);

// 1. The seed: sign in the forward pass, identity in the backward pass.
sg.tidy(() => {
  const x = sg.tensor([-1.5, 0, 0.5, 2], undefined, { requiresGrad: true });
  const y = sg.ste.sign(x);
  y.sum().backward();
  console.log(`ste.sign([-1.5, 0, 0.5, 2])        = [${y.toArray()}]   gradient of sum = [${x.grad.toArray()}]`);
  const x2 = sg.tensor([-1.5, 0, 0.5, 2], undefined, { requiresGrad: true });
  sg.sign(x2).sum().backward();
  console.log(`plain sign: gradient of sum        = [${x2.grad.toArray()}]   (why the STE is needed)`);
});

// 2. The VQ-VAE lookup: nearest code forward, gradient straight to z.
sg.tidy(() => {
  const z = sg.tensor([[0.9, 0.1], [-1.2, 0.8], [0.1, -0.9]], undefined, { requiresGrad: true });
  const codebook = sg.tensor([[1, 0], [-1, 1], [0, -1]], undefined, { requiresGrad: true });
  const { zq, indices, commitmentLoss, codebookLoss } = sg.ste.vq(z, codebook, { beta: 0.25 });
  sg.sum(sg.mul(zq, sg.tensor([[1, 2], [3, 4], [5, 6]]))).backward();
  console.log(`ste.vq: indices = [${indices.toArray()}], dL/dz = dL/dzq = ${JSON.stringify(z.grad.toArray())}, codebook grad via zq: ${codebook.grad === null ? 'none' : 'some'}`);
  console.log(`        commitment loss ${commitmentLoss.item().toFixed(4)}, codebook loss ${codebookLoss.item().toFixed(4)}\n`);
});

// 3. A binary network learns: a random binary "teacher" labels ±1 patterns;
//    the student has latent float weights, binarized in the forward pass.
const D = 32, H = 64, C = 4, batch = 64;
const teacher = sg.keep(sg.randn([D, C], { seed: seed + 100 }));
const w1 = sg.keep(sg.randn([D, H], { seed, std: 0.1, requiresGrad: true }));
const w2 = sg.keep(sg.randn([H, C], { seed: seed + 1, std: 0.1, requiresGrad: true }));
const optimizer = new sg.optim.SGD([w1, w2], { lr: 0.05, momentum: 0.9 });

function batchOf(step) {
  const x = sg.ste.binarize(sg.randn([batch, D], { seed: seed * 1000003 + step }));
  const y = sg.argmax(sg.matmul(x, teacher), { axis: 1 });
  return { x, y };
}

function forward(x) {
  const h = sg.ste.sign(sg.matmul(x, sg.ste.binarize(w1, { grad: 'clipped' })), { grad: 'approx' });
  return sg.mul(sg.matmul(h, sg.ste.binarize(w2, { grad: 'clipped' })), 1 / Math.sqrt(H));
}

// Batches are made on the fly; fit frees each one with its step.
const stream = (count, first) => ({ length: count, *[Symbol.iterator]() { for (let i = 0; i < count; i++) yield batchOf(first + i); } });
let running = 0;
const history = sg.fit(forward, stream(steps, 1), {
  optimizer, loss: 'crossEntropy', metrics: ['accuracy'], progress: false,
  onStep: ({ step, loss, metrics }) => {
    running = step === 1 ? loss : 0.9 * running + 0.1 * loss;
    if (step === 1 || step % 50 === 0) console.log(`step ${String(step).padStart(4)}  loss ${running.toFixed(4)}  batch accuracy ${(metrics.accuracy * 100).toFixed(1)}%`);
  },
});
const ms = 1000 * history.trainSeconds;

const evalAcc = sg.evaluate(forward, stream(20, 1_000_000), { metrics: ['accuracy'] }).accuracy;
console.log(`\nheld-out accuracy ${(evalAcc * 100).toFixed(1)}% (chance 25%), ${steps} steps in ${(ms / 1000).toFixed(2)} s (${(ms / steps).toFixed(2)} ms/step)`);
console.log(`weights: ${(D * H + H * C) * 4} bytes as float32 -> ${Math.ceil(((D * H + H * C) / 8))} bytes as bits`);
optimizer.dispose();
for (const t of [teacher, w1, w2]) t.dispose();
console.log(`memory after cleanup: ${JSON.stringify(sg.memoryStats())}`);
