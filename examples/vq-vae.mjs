// An MLP VQ-VAE on MNIST: the encoder maps an image to 16 latent vectors of
// dimension 8, each snapped to the nearest of 256 codebook vectors (EMA
// codebook, k-means init, dead-code replacement); the decoder reconstructs the
// image from the codes. Reports reconstruction MSE, codebook perplexity and
// usage on the test set, and writes a PNG of originals above reconstructions.
//
//   node examples/vq-vae.mjs [--epochs 3] [--seed 1] [--data DIR] [--codes 256] [--out vq-vae.png] [--limit-train N] [--limit-test N]
import { writeFileSync } from 'node:fs';
import * as sg from '../dist/snapgrad.js';
import { loadDataset, mnistLoader, now, parseFlags } from './common.mjs';
import { encodeGrayPng, imageGrid } from './png.mjs';

const flags = parseFlags({ epochs: 3, seed: 1, data: '', codes: 256, latents: 16, dim: 8, batch: 128, lr: 0.002, out: 'vq-vae.png', limitTrain: 0, limitTest: 0 });
const start = now();
await sg.init();
const data = await loadDataset(flags.data, flags);
const train = mnistLoader(data.trainX, data.trainY, { unitRange: true, batchSize: flags.batch, shuffle: true, seed: flags.seed, dropLast: true });
const test = mnistLoader(data.testX, data.testY, { unitRange: true, batchSize: 1000 });
const { nn, optim } = sg;
const L = flags.latents;
const D = flags.dim;
let seed = flags.seed * 1000;
const encoder = new nn.Sequential(new nn.Linear(784, 512, { seed: seed++ }), new nn.ReLU(), new nn.Linear(512, L * D, { seed: seed++ }));
const quantizer = new nn.VectorQuantizer(flags.codes, D, { beta: 0.25, decay: 0.95, deadCodeThreshold: 1, seed: seed++ });
const decoder = new nn.Sequential(new nn.Linear(L * D, 512, { seed: seed++ }), new nn.ReLU(), new nn.Linear(512, 784, { seed: seed++ }), new nn.Sigmoid());
const optimizer = new optim.Adam([...encoder.parameters(), ...decoder.parameters()], { lr: flags.lr });
const schedule = new optim.CosineLR(optimizer, flags.epochs * train.length, flags.lr * 0.05);

function autoencode(x) {
  const z = sg.reshape(encoder.forward(x), [-1, D]);
  const q = quantizer.quantize(z);
  const recon = decoder.forward(sg.reshape(q.zq, [x.shape[0], L * D]));
  return { recon, q };
}

// The model is a function of the batch's images; the loss adds the VQ terms to the reconstruction error.
for (const m of [encoder, quantizer, decoder]) m.train();
sg.fit((x) => autoencode(x), train, {
  optimizer, schedule, epochs: flags.epochs,
  loss: ({ recon, q }, _labels, batch) => sg.add(sg.mse(recon, batch.x), q.loss),
  metrics: { mse: ({ recon }, _labels, batch) => sg.mse(recon, batch.x), perplexity: ({ q }) => q.perplexity },
});

// Test set: reconstruction MSE, perplexity and usage over all test codes.
for (const m of [encoder, quantizer, decoder]) m.eval();
const nTest = data.testX.shape[0];
const counts = new Float64Array(flags.codes);
let sqSum = 0;
for (const { x } of test) {
  sg.tidy(() => {
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
  const x = test.batchOf(Array.from({ length: shown }, (_, i) => i)).x;
  const { recon } = sg.noGrad(() => autoencode(x));
  const a = x.dataSync();
  const b = recon.dataSync();
  return [...Array.from({ length: shown }, (_, i) => a.subarray(i * 784, (i + 1) * 784)), ...Array.from({ length: shown }, (_, i) => b.subarray(i * 784, (i + 1) * 784))];
});
const grid = imageGrid(images, shown);
writeFileSync(flags.out, await encodeGrayPng(grid.pixels, grid.width, grid.height));
console.log(`wrote ${flags.out} (top: test images, bottom: reconstructions)`);
console.log(`test reconstruction MSE ${mse.toFixed(4)}, codebook perplexity ${perplexity.toFixed(1)} of ${flags.codes}, codes used ${((100 * used) / flags.codes).toFixed(1)}% in ${Math.round((now() - start) / 1000)} s`);
