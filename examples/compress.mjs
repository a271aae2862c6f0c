// Learned compression of MNIST: encoder -> quantization -> decoder, with a
// factorized entropy model (nn.EntropyBottleneck) giving the rate in bits and
// a real rANS coder writing and reading the bitstream.
//
// Rounding is trained three ways (STE, additive uniform noise, and noise for
// the rate with STE for the decoder); the test set is then compressed for
// real, and the actual bits per image are compared with the model's estimate.
// A sweep over lambda (the rate-distortion trade-off) gives the curve in
// compress-rd.svg / .png; compress-loss.svg has the training curves.
//
//   node examples/compress.mjs [--epochs 2] [--lambda 32] [--lambdas 8,32,128]
//        [--latents 16] [--rounding mixed] [--seed 1] [--data DIR]
//        [--batch 128] [--lr 0.002] [--limit-train N] [--limit-test N] [--out compress]
import { writeFileSync } from 'node:fs';
import * as sg from '../dist/snapgrad.js';
import { loadDataset, mnistLoader, parseFlags } from './common.mjs';

const flags = parseFlags({ epochs: 2, lambda: 32, lambdas: '8,32,128', latents: 16, rounding: 'mixed', seed: 1, data: '', batch: 128, lr: 0.002, limitTrain: 0, limitTest: 0, out: 'compress' });
const MODES = ['ste', 'noise', 'mixed'];
if (!MODES.includes(flags.rounding)) throw new Error(`--rounding must be one of ${MODES.join(', ')}, got ${flags.rounding}`);
const lambdas = flags.lambdas.split(',').map(Number);
if (lambdas.some((l) => !(l > 0))) throw new Error(`--lambdas must be positive numbers separated by commas, got ${flags.lambdas}`);

const now = () => performance.now();
const start = now();
await sg.init();
const data = await loadDataset(flags.data, flags);
const { nn, optim } = sg;
const C = flags.latents;
const nTest = data.testX.shape[0];

function makeModel(rounding, seed) {
  let s = seed;
  const encoder = new nn.Sequential(new nn.Linear(784, 512, { seed: s++ }), new nn.ReLU(), new nn.Linear(512, 256, { seed: s++ }), new nn.ReLU(), new nn.Linear(256, C, { seed: s++ }));
  const bottleneck = new nn.EntropyBottleneck(C, { rounding });
  const decoder = new nn.Sequential(new nn.Linear(C, 256, { seed: s++ }), new nn.ReLU(), new nn.Linear(256, 512, { seed: s++ }), new nn.ReLU(), new nn.Linear(512, 784, { seed: s++ }), new nn.Sigmoid());
  return { encoder, bottleneck, decoder, modules: [encoder, bottleneck, decoder] };
}

/** Trains one model; returns it with its per-step loss curve. */
function train(rounding, lambda) {
  const m = makeModel(rounding, flags.seed * 1000);
  const loader = mnistLoader(data.trainX, data.trainY, { unitRange: true, batchSize: flags.batch, shuffle: true, seed: flags.seed, dropLast: true });
  const params = m.modules.flatMap((mod) => mod.parameters());
  const optimizer = new optim.Adam(params, { lr: flags.lr });
  const schedule = new optim.CosineLR(optimizer, flags.epochs * loader.length, flags.lr * 0.05);
  const curve = [];
  // The loss: rate in bits per pixel + lambda * MSE, per image.
  sg.fit((x) => {
    const q = m.bottleneck.quantize(m.encoder.forward(x));
    return { recon: m.decoder.forward(q.yHat), bits: q.bits };
  }, loader, {
    optimizer, schedule, epochs: flags.epochs, progress: false,
    loss: ({ recon, bits }, _y, batch) => sg.add(sg.mul(bits, 1 / (784 * batch.x.shape[0])), sg.mul(sg.mse(recon, batch.x), lambda)),
    metrics: { bits: ({ bits }, _y, batch) => bits.item() / batch.x.shape[0], mse: ({ recon }, _y, batch) => sg.mse(recon, batch.x) },
    onStep: (info) => {
      if (info.globalStep % 20 === 0) curve.push([info.globalStep, info.loss]);
    },
    onEpoch: (log) => console.log(`  ${rounding.padEnd(5)} lambda ${lambda}: epoch ${log.epoch} loss ${log.loss.toFixed(4)}, bits/image ${log.metrics.bits.toFixed(1)}, mse ${log.metrics.mse.toFixed(4)}`),
  });
  for (const mod of m.modules) mod.eval();
  return { ...m, curve };
}

/** Compresses the test set for real (one rANS stream), decodes it, and measures rate and distortion. */
function evaluate(m) {
  const test = mnistLoader(data.testX, data.testY, { unitRange: true, batchSize: nTest });
  const [{ x }] = [...[test.batchOf(Array.from({ length: nTest }, (_, i) => i))]];
  const result = sg.tidy(() => {
    const y = sg.noGrad(() => m.encoder.forward(x));
    const stream = m.bottleneck.compress(y);
    const estimate = m.bottleneck.estimateBits(y);
    const decoded = m.bottleneck.decompress(stream, [...y.shape]);
    const exact = sg.tidy(() => sg.eq(decoded, sg.round(y)).dataSync().every((v) => v === 1));
    const recon = sg.noGrad(() => m.decoder.forward(decoded));
    const mse = sg.mse(recon, x).item();
    return { bits: (stream.length * 8) / nTest, estimate: estimate / nTest, mse, exact };
  });
  x.dispose();
  return { ...result, psnr: 10 * Math.log10(1 / result.mse) };
}

function dispose(m) {
  for (const mod of m.modules) mod.dispose();
}

const fmt = (r) => `bits/image ${r.bits.toFixed(1)} (estimated ${r.estimate.toFixed(1)}), MSE ${r.mse.toFixed(4)}, PSNR ${r.psnr.toFixed(2)} dB`;

console.log(`MNIST: ${data.trainX.shape[0]} train, ${nTest} test images; ${C} latent channels; lambda ${flags.lambda}`);
const byMode = {};
const curves = [];
for (const rounding of MODES) {
  const m = train(rounding, flags.lambda);
  byMode[rounding] = evaluate(m);
  curves.push({ name: rounding, x: m.curve.map((p) => p[0]), y: m.curve.map((p) => p[1]) });
  dispose(m);
  const r = byMode[rounding];
  console.log(`${rounding}: ${fmt(r)}, decoded exactly: ${r.exact ? 'yes' : 'NO'}, actual/estimate ${((100 * r.bits) / r.estimate).toFixed(2)}%`);
}

const sweep = [];
for (const lambda of lambdas) {
  const r = lambda === flags.lambda ? byMode[flags.rounding] : (() => {
    const m = train(flags.rounding, lambda);
    const e = evaluate(m);
    dispose(m);
    return e;
  })();
  sweep.push({ lambda, ...r });
  console.log(`sweep lambda ${lambda}: ${fmt(r)}`);
}
sweep.sort((a, b) => a.bits - b.bits);

writeFileSync(`${flags.out}-loss.svg`, sg.plot.lineChartSvg(curves, { title: `training loss (lambda ${flags.lambda})`, xLabel: 'step', yLabel: 'bpp + lambda MSE', logY: true }));
const rd = [{ name: `${flags.rounding} rounding`, x: sweep.map((r) => r.bits), y: sweep.map((r) => r.psnr) }];
const rdOptions = { title: 'rate-distortion on MNIST test', xLabel: 'bits per image (actual)', yLabel: 'PSNR (dB)' };
writeFileSync(`${flags.out}-rd.svg`, sg.plot.lineChartSvg(rd, rdOptions));
writeFileSync(`${flags.out}-rd.png`, await sg.plot.lineChartPng(rd, rdOptions));
console.log(`wrote ${flags.out}-rd.svg, ${flags.out}-rd.png and ${flags.out}-loss.svg in ${Math.round((now() - start) / 1000)} s`);
console.log(fmt(byMode[flags.rounding]));
