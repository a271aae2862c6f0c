// Helpers shared by the examples: flags, MNIST as tensors, batching, evaluation, timing.
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
 * MNIST (or any IDX dataset of the MNIST layout) as kept float32 tensors:
 * images [N, 784] with raw pixel values 0..255 (or 0..1 with unitRange),
 * labels int32 [N].
 */
export async function loadDataset(dir, { limitTrain = 0, limitTest = 0, unitRange = false } = {}) {
  const raw = await sg.io.loadMnist(dir || undefined, { limitTrain: limitTrain || undefined, limitTest: limitTest || undefined });
  const toRows = (images) => sg.keep(sg.tidy(() => {
    const pixels = sg.cast(images.reshape([images.shape[0], -1]), 'float32');
    return unitRange ? sg.mul(pixels, 1 / 255) : pixels;
  }));
  const toLabels = (labels) => sg.keep(sg.tidy(() => sg.cast(labels, 'int32')));
  const data = {
    trainX: toRows(raw.trainImages),
    trainY: toLabels(raw.trainLabels),
    testX: toRows(raw.testImages),
    testY: toLabels(raw.testLabels),
  };
  for (const t of Object.values(raw)) t.dispose();
  return data;
}

/** A seeded permutation of 0..n-1 as a kept int32 tensor (xorshift + Fisher-Yates). */
export function permutation(n, seed) {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const j = s % (i + 1);
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  return sg.keep(sg.tensor(order));
}

/** Rows idx[start:start+size] of x and y. */
export function batchOf(x, y, order, start, size) {
  const idx = sg.slice(order, [start], [size]);
  return { x: sg.gather(x, idx), y: sg.gather(y, idx) };
}

/** Accuracy (%) of predict(x) -> logits over a dataset, in chunks. Also returns the argmax predictions. */
export function accuracy(predict, x, y, chunk = 1000) {
  const n = x.shape[0];
  const labels = y.dataSync();
  const predictions = new Int32Array(n);
  for (let i = 0; i < n; i += chunk) {
    const size = Math.min(chunk, n - i);
    sg.tidy(() => predictions.set(sg.argmax(predict(sg.slice(x, [i, 0], [size, -1])), { axis: 1 }).dataSync(), i));
  }
  let correct = 0;
  for (let i = 0; i < n; i++) correct += predictions[i] === labels[i] ? 1 : 0;
  return { accuracy: (100 * correct) / Math.max(n, 1), predictions };
}

export function megabytes(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

export const now = () => performance.now();
