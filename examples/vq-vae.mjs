// An MLP VQ-VAE on MNIST: the encoder maps an image to 16 latent vectors of
// dimension 8, each snapped to the nearest of 256 codebook vectors (EMA
// codebook, k-means init, dead-code replacement); the decoder reconstructs the
// image from the codes. Reports reconstruction MSE, codebook perplexity and
// usage on the test set, and writes a PNG of originals above reconstructions.
//
//   node examples/vq-vae.mjs [--epochs 3] [--seed 1] [--data DIR] [--codes 256] [--out vq-vae.png] [--limit-train N] [--limit-test N]
import { writeFileSync } from 'node:fs';
import * as sg from '../dist/snapgrad.js';
import { batchOf, loadDataset, now, parseFlags, permutation } from './common.mjs';
import { encodeGrayPng, imageGrid } from './png.mjs';

const flags = parseFlags({ epochs: 3, seed: 1, data: '', codes: 256, latents: 16, dim: 8, batch: 128, lr: 0.002, out: 'vq-vae.png', limitTrain: 0, limitTest: 0 });
const start = now();
await sg.init();
const data = await loadDataset(flags.data, { ...flags, unitRange: true });
const nTrain = data.trainX.shape[0];
const { nn, optim } = sg;
const L = flags.latents;
const D = flags.dim;
let seed = flags.seed * 1000;
const encoder = new nn.Sequential(new nn.Linear(784, 512, { seed: seed++ }), new nn.ReLU(), new nn.Linear(512, L * D, { seed: seed++ }));
const quantizer = new nn.VectorQuantizer(flags.codes, D, { beta: 0.25, decay: 0.95, deadCodeThreshold: 1, seed: seed++ });
const decoder = new nn.Sequential(new nn.Linear(L * D, 512, { seed: seed++ }), new nn.ReLU(), new nn.Linear(512, 784, { seed: seed++ }), new nn.Sigmoid());
const optimizer = new optim.Adam([...encoder.parameters(), ...decoder.parameters()], { lr: flags.lr });
const stepsPerEpoch = Math.floor(nTrain / flags.batch);
const schedule = new optim.CosineLR(optimizer, flags.epochs * stepsPerEpoch, flags.lr * 0.05);

function autoencode(x) {
  const z = sg.reshape(encoder.forward(x), [-1, D]);
  const q = quantizer.quantize(z);
  const recon = decoder.forward(sg.reshape(q.zq, [x.shape[0], L * D]));
  return { recon, q };
}

for (let epoch = 1; epoch <= flags.epochs; epoch++) {
  const t0 = now();
  const order = permutation(nTrain, flags.seed * 31 + epoch);
  let mseSum = 0;
  let perplexitySum = 0;
  for (const m of [encoder, quantizer, decoder]) m.train();
  for (let step = 0; step < stepsPerEpoch; step++) {
    const [mse, perplexity] = sg.tidy(() => {
      const { x } = batchOf(data.trainX, data.trainY, order, step * flags.batch, flags.batch);
      const { recon, q } = autoencode(x);
      const mse = sg.mse(recon, x);
      const loss = sg.add(mse, q.loss);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      schedule.step();
      return [mse.item(), q.perplexity];
    });
    mseSum += mse;
    perplexitySum += perplexity;
  }
  order.dispose();
  const seconds = (now() - t0) / 1000;
  console.log(`epoch ${epoch}/${flags.epochs}  train MSE ${(mseSum / stepsPerEpoch).toFixed(4)}  perplexity ${(perplexitySum / stepsPerEpoch).toFixed(1)}  ${Math.round((stepsPerEpoch * flags.batch) / seconds)} samples/s`);
}

// Test set: reconstruction MSE, perplexity and usage over all test codes.
for (const m of [encoder, quantizer, decoder]) m.eval();
const nTest = data.testX.shape[0];
const counts = new Float64Array(flags.codes);
let sqSum = 0;
for (let i = 0; i < nTest; i += 1000) {
  const size = Math.min(1000, nTest - i);
  sg.tidy(() => {
    const x = sg.slice(data.testX, [i, 0], [size, -1]);
    const { recon, q } = sg.noGrad(() => autoencode(x));
    sqSum += sg.sum(sg.square(sg.sub(recon, x))).item();
    for (const k of q.indices.dataSync()) counts[k]++;
  });
}
const mse = sqSum / (nTest * 784);
const total = counts.reduce((a, b) => a + b, 0);
const used = counts.filter((c) => c > 0).length;
const perplexity = Math.exp(-counts.reduce((h, c) => (c > 0 ? h + (c / total) * Math.log(c / total) : h), 0));

const shown = Math.min(12, nTest);
const images = sg.tidy(() => {
  const x = sg.slice(data.testX, [0, 0], [shown, -1]);
  const { recon } = sg.noGrad(() => autoencode(x));
  const a = x.dataSync();
  const b = recon.dataSync();
  return [...Array.from({ length: shown }, (_, i) => a.subarray(i * 784, (i + 1) * 784)), ...Array.from({ length: shown }, (_, i) => b.subarray(i * 784, (i + 1) * 784))];
});
const grid = imageGrid(images, shown);
writeFileSync(flags.out, encodeGrayPng(grid.pixels, grid.width, grid.height));
console.log(`wrote ${flags.out} (top: test images, bottom: reconstructions)`);
console.log(`test reconstruction MSE ${mse.toFixed(4)}, codebook perplexity ${perplexity.toFixed(1)} of ${flags.codes}, codes used ${((100 * used) / flags.codes).toFixed(1)}% in ${Math.round((now() - start) / 1000)} s`);
