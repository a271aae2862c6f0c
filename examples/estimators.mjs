// A categorical VAE on MNIST, trained with each gradient estimator for discrete latents, with the
// estimators' gradients measured against the exact gradient where the latent space can be enumerated.
//
// Encoder 784-512-256-(L·C) logits; L independent categorical latents of C classes; decoder
// (L·C)-256-512-784 Bernoulli logits (sigmoid output, bceWithLogits); KL to the uniform prior
// (klCategorical). Images are binarized at 0.5. Two configs: 8×4 (C = 8, L = 4: C^L = 4096) and
// 4×24 (C = 4, L = 24: C^L = 4^24, too many to enumerate).
//
// Estimators: st (ste.categorical), st-gumbel (ste.gumbelSoftmax hard), gumbel-softmax (soft
// relaxation in training), gumbel-rao (ste.gumbelRao, --rao-samples conditional noises), reinmax
// (ste.reinmax), reinforce-loo (estimators.reinforce, --reinforce-samples loss samples, leave-one-out
// baseline). Gumbel temperatures anneal by estimators.temperature from 1 to --tau-min; st and reinmax use tau = 1.
//
// -ELBO (nats per image) is evaluated the same way for every estimator: one hard categorical sample
// per image (fixed seed), reconstruction BCE summed over pixels + KL. At checkpoints (start, middle,
// end of training) the 8×4 model's own estimator is measured by estimators.compare on --diag-images
// test images: relative bias, relative std and cosine to the exact gradient of the expected
// reconstruction loss w.r.t. the encoder logits (the KL term is exact for every estimator and left out).
// 4×24 cannot be enumerated: there the reference is sampled (estimators.compare's referenceSamples:
// the mean of --reference-samples local-expectation gradients, unbiased), and its own relative
// standard error is printed: biases below about it are not resolved (--reference-samples 0: none).
//
//   node examples/estimators.mjs [--epochs 2] [--seed 1] [--batch 100] [--lr 0.001] [--limit-train 10000]
//     [--limit-test 2000] [--configs 8x4,4x24] [--estimators st,st-gumbel,gumbel-softmax,gumbel-rao,reinmax,reinforce-loo]
//     [--tau-min 0.5] [--reinforce-samples 2] [--rao-samples 8] [--diag-images 4] [--diag-samples 512] [--reference-samples 64] [--json FILE] [--data DIR]
import { writeFileSync } from 'node:fs';
import * as sg from '../dist/snapgrad.js';
import { loadDataset, mnistLoader, now, parseFlags } from './common.mjs';

const flags = parseFlags({
  epochs: 2, seed: 1, batch: 100, lr: 0.001, limitTrain: 10000, limitTest: 2000, data: '',
  configs: '8x4,4x24', estimators: 'st,st-gumbel,gumbel-softmax,gumbel-rao,reinmax,reinforce-loo',
  tauMin: 0.5, reinforceSamples: 2, raoSamples: 8, diagImages: 4, diagSamples: 512, referenceSamples: 64, json: '',
});
const ESTIMATORS = ['st', 'st-gumbel', 'gumbel-softmax', 'gumbel-rao', 'reinmax', 'reinforce-loo'];
const estimators = flags.estimators.split(',');
for (const e of estimators) if (!ESTIMATORS.includes(e)) throw new Error(`--estimators: unknown estimator ${JSON.stringify(e)}; known: ${ESTIMATORS.join(',')}`);
const configs = flags.configs.split(',').map((s) => {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`--configs: ${JSON.stringify(s)} is not CxL (e.g. 8x4)`);
  return { name: s, C: Number(m[1]), L: Number(m[2]) };
});

const start = now();
await sg.init();
const data = await loadDataset(flags.data, flags);
const binarize = (b) => ({ x: sg.cast(sg.gt(b.x, 127.5), 'float32'), y: b.y });
const loader = (x, y, options) => new sg.data.DataLoader({ x, y }, { ...options, dtypes: { x: 'float32', y: 'int32' }, transform: binarize });
const trainEval = loader(data.trainX, data.trainY, { batchSize: 500 });
const testEval = loader(data.testX, data.testY, { batchSize: 500 });
const { nn, optim } = sg;
const PIXELS = 784;

function makeModel(L, C, seed) {
  let s = seed;
  const encoder = new nn.Sequential(new nn.Linear(PIXELS, 512, { seed: s++ }), new nn.ReLU(), new nn.Linear(512, 256, { seed: s++ }), new nn.ReLU(), new nn.Linear(256, L * C, { seed: s++ }));
  const decoder = new nn.Sequential(new nn.Linear(L * C, 256, { seed: s++ }), new nn.ReLU(), new nn.Linear(256, 512, { seed: s++ }), new nn.ReLU(), new nn.Linear(512, PIXELS, { seed: s++ }));
  return { encoder, decoder, L, C };
}

/** Reconstruction −log p(x | z) per image: Bernoulli BCE summed over pixels, [B]. */
function reconPerImage(model, z, x) {
  const logits = model.decoder.forward(sg.reshape(z, [z.shape[0], model.L * model.C]));
  return sg.sum(sg.sub(sg.softplus(logits), sg.mul(logits, x)), { axis: 1 });
}

/** The sample each estimator trains with, and the temperature it uses at `step`. */
function sampleFor(estimator, logits, tau) {
  if (estimator === 'st') return sg.ste.categorical(logits);
  if (estimator === 'reinmax') return sg.ste.reinmax(logits);
  if (estimator === 'st-gumbel') return sg.ste.gumbelSoftmax(logits, { tau, hard: true });
  if (estimator === 'gumbel-rao') return sg.ste.gumbelRao(logits, { tau, samples: flags.raoSamples });
  return sg.ste.gumbelSoftmax(logits, { tau });
}

/** One training step's loss: −ELBO estimate averaged over the batch. */
function stepLoss(model, estimator, x, tau) {
  const B = x.shape[0];
  const logits = sg.reshape(model.encoder.forward(x), [B, model.L, model.C]);
  const kl = sg.mul(sg.klCategorical(logits), model.L);
  if (estimator === 'reinforce-loo') {
    const recon = sg.estimators.reinforce(logits, (z) => reconPerImage(model, z, x), { samples: flags.reinforceSamples, baseline: 'loo' });
    return sg.add(recon, kl);
  }
  const z = sampleFor(estimator, logits, tau);
  const out = model.decoder.forward(sg.reshape(z, [B, model.L * model.C]));
  return sg.add(sg.mul(sg.bceWithLogits(out, x), PIXELS), kl);
}

/** −ELBO in nats per image with one hard sample per image (the same procedure for every estimator). */
function negElbo(model, evalLoader) {
  let total = 0;
  let count = 0;
  let batchIndex = 0;
  for (const { x } of evalLoader) {
    sg.tidy(() => sg.noGrad(() => {
      const B = x.shape[0];
      const logits = sg.reshape(model.encoder.forward(x), [B, model.L, model.C]);
      const z = sg.ste.categorical(logits, { seed: 77_000 + batchIndex++ });
      const recon = sg.sum(reconPerImage(model, z, x)).item();
      const kl = sg.klCategorical(logits).item() * model.L * B;
      total += recon + kl;
      count += B;
    }));
  }
  return total / count;
}

// Fixed test images for the gradient diagnostics.
const diagX = sg.keep(sg.tidy(() => binarize({ x: sg.slice(data.testX, [0, 0], [Math.min(flags.diagImages, data.testX.shape[0]), PIXELS]).cast('float32') }).x));

/**
 * The estimator's relative bias, relative std and cosine against the exact gradient of the diagnostic
 * minibatch: each image's logits are enumerated separately (the loss is a sum over images), and the
 * per-image estimates are concatenated into one gradient over the minibatch's logits [B, L, C].
 */
function diagnose(model, estimator, tau) {
  const enumerable = model.C ** model.L <= 16384;
  if ((!enumerable && flags.referenceSamples === 0) || flags.diagImages === 0) return null;
  const reference = enumerable ? {} : { referenceSamples: flags.referenceSamples };
  const spec = estimator === 'reinforce-loo' ? { name: 'reinforce', baseline: 'loo', samples: flags.reinforceSamples, label: estimator }
    : estimator === 'gumbel-rao' ? { name: estimator, tau, samples: flags.raoSamples }
      : { name: estimator, tau: estimator === 'st-gumbel' || estimator === 'gumbel-softmax' ? tau : 1 };
  const N = flags.diagSamples;
  const parts = [];
  for (let i = 0; i < diagX.shape[0]; i++) {
    sg.tidy(() => {
      const xi = sg.slice(diagX, [i, 0], [1, PIXELS]);
      const theta = sg.noGrad(() => sg.reshape(model.encoder.forward(xi), [model.L, model.C]));
      const f = (z) => reconPerImage(model, z, sg.broadcastTo(xi, [z.shape[0], PIXELS]));
      const r = sg.estimators.compare(theta, f, { estimators: [spec], samples: N, seed: flags.seed * 1000 + i, batched: true, keepEstimates: true, ...reference });
      parts.push({ g: r.gradient, est: r.estimators[0].estimates, mean: r.estimators[0].mean, err: r.referenceError * r.gradientNorm });
    });
  }
  const D = model.L * model.C;
  let g2 = 0;
  let bias2 = 0;
  for (const p of parts) for (let d = 0; d < D; d++) { g2 += p.g[d] ** 2; bias2 += (p.mean[d] - p.g[d]) ** 2; }
  let spread = 0;
  let cos = 0;
  for (let n = 0; n < N; n++) {
    let dot = 0;
    let e2 = 0;
    for (const p of parts) {
      for (let d = 0; d < D; d++) {
        const v = p.est[n * D + d];
        dot += v * p.g[d];
        e2 += v * v;
        spread += (v - p.mean[d]) ** 2;
      }
    }
    cos += e2 > 0 ? dot / Math.sqrt(e2 * g2) : 0;
  }
  const gn = Math.sqrt(g2);
  // The reference's standard error over the minibatch (0 for the exact gradient).
  const refErr = Math.sqrt(parts.reduce((a, p) => a + p.err ** 2, 0)) / gn;
  return { bias: Math.sqrt(bias2) / gn, std: Math.sqrt(spread / (N - 1)) / gn, cosine: cos / N, referenceError: refErr };
}

function train1(config, estimator) {
  // A fresh loader and generator per run: every estimator sees the same batches in the same order.
  const train = loader(data.trainX, data.trainY, { batchSize: flags.batch, shuffle: true, seed: flags.seed, dropLast: true });
  sg.seed(flags.seed);
  const model = makeModel(config.L, config.C, flags.seed * 100);
  const params = [...model.encoder.parameters(), ...model.decoder.parameters()];
  const optimizer = new optim.Adam(params, { lr: flags.lr });
  const totalSteps = flags.epochs * train.length;
  // Anneal from 1 to tauMin over the run (Jang et al.'s exponential schedule).
  const rate = totalSteps > 0 ? Math.log(1 / flags.tauMin) / totalSteps : 0;
  const tauAt = (step) => sg.estimators.temperature(step, { tau0: 1, tauMin: flags.tauMin, rate });
  const checkpoints = [0, Math.floor(totalSteps / 2), totalSteps];
  const diag = [];
  const t0 = now();
  let step = 0;
  const check = () => {
    if (checkpoints.includes(step) && diag.length < checkpoints.length) diag.push({ step, ...diagnose(model, estimator, tauAt(step)) });
  };
  check();
  for (let epoch = 0; epoch < flags.epochs; epoch++) {
    for (const { x } of train) {
      const tau = tauAt(step);
      sg.tidy(() => {
        const loss = stepLoss(model, estimator, x, tau);
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
      });
      step++;
      if (step < totalSteps) check();
    }
  }
  check();
  const seconds = (now() - t0) / 1000;
  const elbo = { train: negElbo(model, trainEval), test: negElbo(model, testEval) };
  optimizer.dispose();
  model.encoder.dispose();
  model.decoder.dispose();
  const series = (k) => (diag.length && diag[0][k] !== undefined ? diag.map((d) => d[k]) : null);
  return { elbo, bias: series('bias'), std: series('std'), cosine: series('cosine'), referenceError: series('referenceError'), checkpoints: diag.map((d) => d.step), seconds };
}

const fmt = (v, d = 3) => (v === null || v === undefined ? 'n/a' : v.toFixed(d));
const results = {};
console.log(`categorical VAE on ${data.trainX.shape[0]} train / ${data.testX.shape[0]} test images, ${flags.epochs} epochs, batch ${flags.batch}, lr ${flags.lr}`);
for (const config of configs) {
  results[config.name] = {};
  const space = config.C ** config.L;
  const enumerable = space <= 16384;
  console.log(`\n${config.name} (C = ${config.C}, L = ${config.L}, C^L = ${enumerable ? space : `${config.C}^${config.L} ≈ ${space.toExponential(1)}`})` +
    (enumerable ? `: bias / std / cosine vs the exact gradient on ${flags.diagImages} test images, ${flags.diagSamples} estimates each, at steps start / middle / end`
      : flags.referenceSamples > 0 ? `: too large to enumerate; bias / std / cosine vs a sampled reference (${flags.referenceSamples} local-expectation gradients per image; its relative error in the last column) on ${flags.diagImages} test images, ${flags.diagSamples} estimates each, at steps start / middle / end`
        : ': too large to enumerate and --reference-samples 0: bias / std / cosine not measured'));
  console.log(`${'estimator'.padEnd(15)} ${'-ELBO train'.padStart(11)} ${'-ELBO test'.padStart(11)}   ${'rel. bias'.padEnd(20)} ${'rel. std'.padEnd(20)} ${'cosine'.padEnd(20)} ${'ref. error'.padEnd(16)} time`);
  for (const estimator of estimators) {
    const r = train1(config, estimator);
    results[config.name][estimator] = { elbo: r.elbo, bias: r.bias, std: r.std, cosine: r.cosine, reference: r.bias ? (enumerable ? 'exact' : 'sampled') : null, referenceError: r.referenceError, checkpoints: r.checkpoints };
    const s = (a) => (a ? a.map((v) => fmt(v, 2)).join(' ') : 'n/a');
    console.log(`${estimator.padEnd(15)} ${fmt(r.elbo.train, 2).padStart(11)} ${fmt(r.elbo.test, 2).padStart(11)}   ${s(r.bias).padEnd(20)} ${s(r.std).padEnd(20)} ${s(r.cosine).padEnd(20)} ${s(r.referenceError).padEnd(16)} ${r.seconds.toFixed(0)} s`);
  }
}
diagX.dispose();
if (flags.json) {
  writeFileSync(flags.json, JSON.stringify({ flags, configs: results }, null, 2));
  console.log(`\nwrote ${flags.json}`);
}
console.log(`\ndone in ${Math.round((now() - start) / 1000)} s`);
