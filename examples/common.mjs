// Helpers shared by the examples: flags, the binary MLP and CNN, MNIST as tensors and DataLoaders, freezing, timing.
import { writeFileSync } from 'node:fs';
import * as sg from '../dist/snapgrad.js';

/** Parses --name value flags against defaults (numbers stay numbers). */
export function parseFlags(defaults, argv = process.argv.slice(2)) {
  const flags = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)} (flags look like --epochs 5)`);
    const name = arg.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(name in defaults)) throw new Error(`unknown flag ${arg}; known: ${Object.keys(defaults).map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(' ')}`);
    const value = argv[++i];
    if (value === undefined) throw new Error(`flag ${arg} needs a value`);
    flags[name] = typeof defaults[name] === 'number' ? Number(value) : value;
    if (typeof defaults[name] === 'number' && !Number.isFinite(flags[name])) throw new Error(`flag ${arg} needs a number, got ${JSON.stringify(value)}`);
  }
  return flags;
}

/**
 * The binary MLP of the main job: 784 -> hidden -> hidden -> 10 with binary
 * weights, binary hidden activations (clipped STE) and batch norm after every
 * layer. The first layer takes raw pixels (integers 0..255, not binarized),
 * by default on the exact uint8 x 1-bit kernel (uint8Inputs: false gives the
 * float BinaryConnect path with the same results). `lib` is the snapgrad module
 * to build with (bench/builds.mjs compares two builds in one process).
 */
export function binaryMlp({ hidden = 1024, seed = 1000, uint8Inputs = true, lib = sg } = {}) {
  const { nn } = lib;
  let s = seed;
  return new nn.Sequential(
    new nn.BinaryLinear(784, hidden, { binarizeInputs: false, uint8Inputs, seed: s++ }),
    new nn.BatchNorm1d(hidden),
    new nn.Binarize({ grad: 'clipped' }),
    new nn.BinaryLinear(hidden, hidden, { seed: s++ }),
    new nn.BatchNorm1d(hidden),
    new nn.Binarize({ grad: 'clipped' }),
    new nn.BinaryLinear(hidden, 10, { seed: s++ }),
    new nn.BatchNorm1d(10),
  );
}

/**
 * The binary CNN of npm run mnist-bcnn, on flat [N, 784] pixels:
 * 28x28x1 -> conv 3x3 C -> pool -> 14x14xC -> conv 3x3 C -> pool -> 7x7xC -> dense H -> 10.
 * Each conv is conv -> 2x2 max-pool -> batch norm -> sign. The first conv has
 * float weights on the raw pixels and the last dense layer float weights on
 * binary inputs; everything between is binary weights and binary
 * activations. `lib` as for binaryMlp.
 */
export function binaryCnn({ channels = 64, hidden = 512, seed = 1000, lib = sg } = {}) {
  const { nn } = lib;
  let s = seed;
  return new nn.Sequential(
    (x) => lib.reshape(x, [-1, 28, 28, 1]),
    new nn.Conv2d(1, channels, 3, { padding: 'same', bias: false, seed: s++ }),
    new nn.MaxPool2d(2),
    new nn.BatchNorm2d(channels),
    new nn.Binarize({ grad: 'clipped' }),
    new nn.BinaryConv2d(channels, channels, 3, { padding: 'same', bias: false, seed: s++ }),
    new nn.MaxPool2d(2),
    new nn.BatchNorm2d(channels),
    new nn.Binarize({ grad: 'clipped' }),
    new nn.Flatten(),
    new nn.BinaryLinear(7 * 7 * channels, hidden, { bias: false, seed: s++ }),
    new nn.BatchNorm1d(hidden),
    new nn.Binarize({ grad: 'clipped' }),
    new nn.Linear(hidden, 10, { seed: s++ }),
  );
}

/**
 * MNIST (or any IDX dataset of the MNIST layout) as kept tensors, as stored:
 * images uint8 [N, 784] (pixels 0..255), labels uint8 [N]. The loaders below
 * convert each batch.
 */
export async function loadDataset(dir, { limitTrain = 0, limitTest = 0 } = {}) {
  const raw = await sg.io.loadMnist(dir || undefined, { limitTrain: limitTrain || undefined, limitTest: limitTest || undefined });
  const rows = (images) => sg.keep(images.reshape([images.shape[0], -1]));
  const data = { trainX: rows(raw.trainImages), trainY: raw.trainLabels, testX: rows(raw.testImages), testY: raw.testLabels };
  raw.trainImages.dispose();
  raw.testImages.dispose();
  return data;
}

/**
 * Batches { x, y } of images and labels: x float32 pixels (0..255, or 0..1
 * with unitRange), y int32 labels (what crossEntropy takes). `shift` > 0
 * augments: each 28x28 image moves by a random whole number of pixels in
 * [-shift, shift] along each axis (zeros come in at the edges), drawn from a
 * generator seeded by `seed`, so a run is reproducible.
 */
export function mnistLoader(x, y, { unitRange = false, shift = 0, ...options } = {}) {
  const random = seededRandom(options.seed ?? 0);
  const scale = (t) => (unitRange ? sg.mul(t, 1 / 255) : t);
  return new sg.data.DataLoader({ x, y }, {
    ...options,
    dtypes: { x: 'float32', y: 'int32' },
    transform: shift > 0 ? (b) => ({ x: scale(shiftImages(b.x, shift, random)), y: b.y }) : unitRange ? (b) => ({ x: scale(b.x), y: b.y }) : undefined,
  });
}

/** mulberry32: a small seeded generator for example-side randomness (augmentation). */
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Each row of x [N, 784] (a 28x28 image) translated by its own random (dy, dx) in [-shift, shift]. */
function shiftImages(x, shift, random) {
  const src = x.dataSync();
  const n = x.shape[0];
  const out = new Float32Array(src.length);
  for (let i = 0; i < n; i++) {
    const dy = Math.floor(random() * (2 * shift + 1)) - shift;
    const dx = Math.floor(random() * (2 * shift + 1)) - shift;
    const base = i * 784;
    for (let r = Math.max(0, dy); r < Math.min(28, 28 + dy); r++) {
      const from = base + (r - dy) * 28;
      const to = base + r * 28;
      for (let c = Math.max(0, dx); c < Math.min(28, 28 + dx); c++) out[to + c] = src[from + c - dx];
    }
  }
  return sg.tensor(out, [n, 784]);
}

/** The class each example of a loader's batches gets (argmax of the logits). */
export function predictedClasses(model, loader) {
  const logits = sg.predict(model, loader);
  const classes = sg.tidy(() => sg.argmax(logits, { axis: 1 }).dataSync());
  logits.dispose();
  return classes;
}

export function megabytes(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

export const now = () => performance.now();

/**
 * Trains an MNIST classifier as the binary examples do (Adam at flags.lr with cosine decay to lr/100,
 * cross-entropy, flags.epochs epochs of flags.batch, validated after each), then puts it in eval mode.
 * Returns the test loader, fit's history and the test accuracy.
 */
/**
 * Trains a classifier on MNIST with Adam and a cosine schedule (fit), then
 * evaluates it on the test set. `validateEachEpoch: false` skips the per-epoch
 * test-set pass (the final evaluation still runs), for runs on a time budget.
 */
export function trainMnistClassifier(model, data, flags, { validateEachEpoch = true } = {}) {
  const { optim } = sg;
  const train = mnistLoader(data.trainX, data.trainY, { batchSize: flags.batch, shuffle: true, seed: flags.seed, dropLast: true, shift: flags.shift ?? 0 });
  const test = mnistLoader(data.testX, data.testY, { batchSize: 1000 });
  const optimizer = new optim.Adam(model.parameters(), { lr: flags.lr });
  const schedule = new optim.CosineLR(optimizer, flags.epochs * train.length, flags.lr * 0.01);
  // A live progress bar on a terminal, a line per epoch elsewhere.
  const history = sg.fit(model, train, {
    optimizer, schedule, loss: 'crossEntropy', epochs: flags.epochs,
    metrics: ['accuracy'], ...(validateEachEpoch ? { validation: test, validationMetrics: ['accuracy'] } : {}),
  });
  model.eval();
  const trained = sg.evaluate(model, test, { metrics: ['accuracy'] }).accuracy;
  return { test, history, trained };
}

/**
 * Freezes a trained model (in eval mode), checks the frozen model predicts the same classes on
 * `test`, saves it to `save` if given, and prints the closing lines of a run that started at `start`.
 */
export function freezeAndReport(model, test, { freezeOptions, save, start, trained, history, stats }) {
  const frozen = sg.freeze(model, freezeOptions);
  const predictFrozen = (x) => frozen.predict(x);
  const frozenAccuracy = sg.evaluate(predictFrozen, test, { metrics: ['accuracy'] }).accuracy;
  const trainedClasses = predictedClasses(model, test);
  const same = predictedClasses(predictFrozen, test).every((p, i) => p === trainedClasses[i]);
  console.log(frozen.summary());
  console.log(`frozen model: ${megabytes(frozen.sizeBytes)}, predictions identical to the trained model's: ${same ? 'yes' : 'NO'}`);
  if (save) {
    const { tensors, metadata } = frozen.state();
    writeFileSync(save, sg.io.saveSafetensors(tensors, metadata));
    console.log(`saved the frozen model to ${save}`);
  }
  const seconds = (now() - start) / 1000;
  console.log(`test accuracy ${(100 * trained).toFixed(2)}% (frozen ${(100 * frozenAccuracy).toFixed(2)}%) in ${Math.round(seconds)} s (training ${Math.round(history.trainSeconds)} s), weights ${megabytes(stats.float32Bytes)} -> ${megabytes(frozen.sizeBytes)}`);
}
