// An MLP VQ-VAE on MNIST: the encoder maps an image to 16 latent vectors, each
// quantized; the decoder reconstructs the image from the codes. Reports
// reconstruction MSE, codebook perplexity and usage on the test set, and
// writes a PNG of originals above reconstructions. The quantizer is one of:
//   vq   nearest of --codes learned codes of dimension --dim (EMA codebook, k-means init, dead-code replacement; default)
//   rvq  --stages residual stages of such codebooks (perplexity and usage are the stages' means)
//   fsq  finite scalar quantization with --levels (default 8,6,5: 240 implicit codes, latent dimension 3; the encoder ends in a batch norm)
//   lfq  lookup-free quantization with --lfq-bits channels (default 8: 256 implicit codes) and its entropy loss
// --rotation-trick passes the gradient through vq/rvq codes by the rotation trick instead of straight through.
//
//   node examples/vq-vae.mjs [--quantizer vq|rvq|fsq|lfq] [--rotation-trick] [--epochs 3] [--seed 1] [--data DIR] [--codes 256]
//        [--stages 2] [--levels 8,6,5] [--lfq-bits 8] [--out vq-vae.png] [--limit-train N] [--limit-test N]
import { writeFileSync } from 'node:fs';
import * as sg from '../dist/snapgrad.js';
import { loadDataset, mnistLoader, now, parseFlags } from './common.mjs';
import { encodeGrayPng, imageGrid } from './png.mjs';

const argv = process.argv.slice(2);
const rotationTrick = argv.includes('--rotation-trick');
const flags = parseFlags({
  quantizer: 'vq', epochs: 3, seed: 1, data: '', codes: 256, latents: 16, dim: 8, batch: 128, lr: 0.002, out: 'vq-vae.png', limitTrain: 0, limitTest: 0,
  stages: 2, levels: '8,6,5', lfqBits: 8,
}, argv.filter((a) => a !== '--rotation-trick'));
if (!['vq', 'rvq', 'fsq', 'lfq'].includes(flags.quantizer)) throw new Error(`--quantizer must be vq, rvq, fsq or lfq, got ${JSON.stringify(flags.quantizer)}`);
if (rotationTrick && !['vq', 'rvq'].includes(flags.quantizer)) throw new Error(`--rotation-trick applies to the codebook quantizers (vq, rvq); ${flags.quantizer} has no codebook to rotate toward`);
const start = now();
await sg.init();
const data = await loadDataset(flags.data, flags);
const train = mnistLoader(data.trainX, data.trainY, { unitRange: true, batchSize: flags.batch, shuffle: true, seed: flags.seed, dropLast: true });
const test = mnistLoader(data.testX, data.testY, { unitRange: true, batchSize: 1000 });
const { nn, optim } = sg;
const L = flags.latents;
let seed = flags.seed * 1000;

/**
 * The quantizer, behind one shape: quantize(z [rows, D]) -> { zq, indices (int32, [rows] or [rows, stages]), loss (or null) },
 * with `size` codes per stage and `columns` index columns.
 */
function makeQuantizer(kind) {
  const vqOptions = { beta: 0.25, decay: 0.95, deadCodeThreshold: 1, rotationTrick };
  if (kind === 'vq') {
    const m = new nn.VectorQuantizer(flags.codes, flags.dim, { ...vqOptions, seed: seed++ });
    return { m, D: flags.dim, size: flags.codes, columns: 1, describe: `${flags.codes} codes of dimension ${flags.dim}`, quantize: (z) => m.quantize(z) };
  }
  if (kind === 'rvq') {
    const m = new nn.ResidualVQ(flags.stages, flags.codes, flags.dim, { ...vqOptions, seed: seed++ });
    return { m, D: flags.dim, size: flags.codes, columns: flags.stages, describe: `${flags.stages} stages of ${flags.codes} codes of dimension ${flags.dim}`, quantize: (z) => m.quantize(z) };
  }
  if (kind === 'fsq') {
    const levels = flags.levels.split(',').map(Number);
    const m = new nn.FSQ(levels);
    return { m, D: levels.length, size: m.codebookSize, columns: 1, describe: `levels [${levels}], ${m.codebookSize} implicit codes`, quantize: (z) => { const q = m.quantize(z); return { zq: q.codes, indices: q.indices, loss: null }; } };
  }
  const m = new nn.LFQ(flags.lfqBits);
  return { m, D: flags.lfqBits, size: m.codebookSize, columns: 1, describe: `${flags.lfqBits} bits, ${m.codebookSize} implicit codes`, quantize: (z) => { const q = m.quantize(z); return { zq: q.codes, indices: q.indices, loss: q.loss }; } };
}

// The latent width each quantizer takes; the seeds go encoder, quantizer, decoder (the default vq run is unchanged).
const D = { vq: flags.dim, rvq: flags.dim, fsq: flags.levels.split(',').length, lfq: flags.lfqBits }[flags.quantizer];
// FSQ's bound is a tanh: the encoder ends in a batch norm so that z stays near unit scale (unnormalized, z grows
// until tanh saturates, its gradient vanishes and a handful of corner codes are left).
const encoder = new nn.Sequential(new nn.Linear(784, 512, { seed: seed++ }), new nn.ReLU(), new nn.Linear(512, L * D, { seed: seed++ }),
  ...(flags.quantizer === 'fsq' ? [new nn.BatchNorm1d(L * D)] : []));
const quantizer = makeQuantizer(flags.quantizer);
const decoder = new nn.Sequential(new nn.Linear(L * D, 512, { seed: seed++ }), new nn.ReLU(), new nn.Linear(512, 784, { seed: seed++ }), new nn.Sigmoid());
const optimizer = new optim.Adam([...encoder.parameters(), ...quantizer.m.parameters(), ...decoder.parameters()], { lr: flags.lr });
const schedule = new optim.CosineLR(optimizer, flags.epochs * train.length, flags.lr * 0.05);

function autoencode(x) {
  const z = sg.reshape(encoder.forward(x), [-1, D]);
  const q = quantizer.quantize(z);
  const recon = decoder.forward(sg.reshape(q.zq, [x.shape[0], L * D]));
  return { recon, q };
}

/** Counts of each code per index column (stage), and their mean perplexity and usage. */
function usageOf(indices, counts = Array.from({ length: quantizer.columns }, () => new Float64Array(quantizer.size))) {
  const v = indices.dataSync();
  for (let i = 0; i < v.length; i++) counts[i % quantizer.columns][v[i]]++;
  return counts;
}
function statsOf(counts) {
  let perplexity = 0;
  let used = 0;
  for (const c of counts) {
    const total = c.reduce((a, b) => a + b, 0);
    perplexity += Math.exp(-c.reduce((h, n) => (n > 0 ? h + (n / total) * Math.log(n / total) : h), 0)) / counts.length;
    used += c.filter((n) => n > 0).length / counts.length;
  }
  return { perplexity, used };
}

// The model is a function of the batch's images; the loss adds the quantizer's terms (none for FSQ) to the reconstruction error.
for (const m of [encoder, quantizer.m, decoder]) m.train();
console.log(`quantizer ${flags.quantizer}${rotationTrick ? ' with the rotation trick' : ''}: ${quantizer.describe}`);
sg.fit((x) => autoencode(x), train, {
  optimizer, schedule, epochs: flags.epochs,
  loss: ({ recon, q }, _labels, batch) => (q.loss ? sg.add(sg.mse(recon, batch.x), q.loss) : sg.mse(recon, batch.x)),
  metrics: { mse: ({ recon }, _labels, batch) => sg.mse(recon, batch.x), perplexity: ({ q }) => statsOf(usageOf(q.indices)).perplexity },
});

// Test set: reconstruction MSE, perplexity and usage over all test codes.
for (const m of [encoder, quantizer.m, decoder]) m.eval();
const nTest = data.testX.shape[0];
const counts = Array.from({ length: quantizer.columns }, () => new Float64Array(quantizer.size));
let sqSum = 0;
for (const { x } of test) {
  sg.tidy(() => {
    const { recon, q } = sg.noGrad(() => autoencode(x));
    sqSum += sg.sum(sg.square(sg.sub(recon, x))).item();
    usageOf(q.indices, counts);
  });
}
const mse = sqSum / (nTest * 784);
const { perplexity, used } = statsOf(counts);

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
console.log(`test reconstruction MSE ${mse.toFixed(4)}, codebook perplexity ${perplexity.toFixed(1)} of ${quantizer.size}, codes used ${((100 * used) / quantizer.size).toFixed(1)}% in ${Math.round((now() - start) / 1000)} s`);
