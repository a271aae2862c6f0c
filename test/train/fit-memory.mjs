// Memory of a long fit(): an MLP 784-64-10 trained on MNIST (uint8 pixels and
// labels converted per batch by the DataLoader) for --steps steps of batch 32,
// with validation every epoch. Prints memoryStats() before, after, and the
// extremes seen between steps, as a last line `memory {json}`; test/train/fit-memory.test.ts
// runs it short and checks the numbers are flat.
//   node test/train/fit-memory.mjs [--steps 10000] [--limit-train 0] [--limit-test 1000]
import * as sg from '../../dist/snapgrad.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const steps = flag('--steps', 10000);
const limitTrain = flag('--limit-train', 0);
const limitTest = flag('--limit-test', 1000);

await sg.init();
const raw = await sg.io.loadMnist(undefined, { limitTrain: limitTrain || undefined, limitTest });
const flat = (images) => sg.keep(images.reshape([images.shape[0], -1]));
const train = { x: flat(raw.trainImages), y: raw.trainLabels };
const test = { x: flat(raw.testImages), y: raw.testLabels };
const dtypes = { x: 'float32', y: 'int32' };
const transform = ({ x, y }) => ({ x: sg.mul(x, 1 / 255), y });
const loader = new sg.data.DataLoader(train, { batchSize: 32, shuffle: true, seed: 1, dtypes, transform });
const validation = new sg.data.DataLoader(test, { batchSize: 500, dtypes, transform });
const model = new sg.nn.Sequential(new sg.nn.Linear(784, 64, { seed: 1 }), new sg.nn.ReLU(), new sg.nn.Linear(64, 10, { seed: 2 }));
const optimizer = new sg.optim.Adam(model.parameters(), { lr: 1e-3 });

const before = sg.memoryStats();
let first = null;
const seen = { minBytesInUse: Infinity, maxBytesInUse: 0, minTensors: Infinity, maxTensors: 0, maxMemoryBytes: 0 };
const history = sg.fit(model, loader, {
  optimizer,
  loss: 'crossEntropy',
  epochs: Math.ceil(steps / loader.length),
  metrics: ['accuracy'],
  validation,
  validationMetrics: ['accuracy'],
  onStep: (s) => {
    // Between steps: the data, model, optimizer state and the gradients; each batch is freed with its step.
    const m = sg.memoryStats();
    first ??= m;
    seen.minBytesInUse = Math.min(seen.minBytesInUse, m.bytesInUse);
    seen.maxBytesInUse = Math.max(seen.maxBytesInUse, m.bytesInUse);
    seen.minTensors = Math.min(seen.minTensors, m.tensorsAlive);
    seen.maxTensors = Math.max(seen.maxTensors, m.tensorsAlive);
    seen.maxMemoryBytes = Math.max(seen.maxMemoryBytes, m.memoryBytes);
    return s.globalStep < steps;
  },
});
const after = sg.memoryStats();
const last = history.epochs[history.epochs.length - 1];
console.log(`memory ${JSON.stringify({
  steps: history.steps,
  seconds: Number(history.seconds.toFixed(1)),
  valAccuracy: last.validation.accuracy,
  before,
  firstStep: first,
  betweenSteps: seen,
  after,
})}`);
optimizer.dispose();
model.dispose();
for (const t of [train.x, train.y, test.x, test.y, raw.trainImages, raw.testImages]) t.dispose();
