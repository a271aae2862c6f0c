// Trains the small binary CNN the Worker serves at POST /conv and saves it
// frozen (model-conv.safetensors):
//   uint8 pixels [N, 28, 28, 1] -> BinaryConv2d 3x3x16 (uint8 inputs, binary
//   weights) -> BN -> sign -> max-pool 2 -> BinaryConv2d 3x3x32 (binary
//   weights and inputs) -> BN -> binarize -> max-pool 2 -> flatten ->
//   BinaryLinear 1568 -> 10 -> BN.
// Frozen, both convs run on packed bits with batch norm + sign folded into
// thresholds and the max-pools fused into their packed outputs.
//
//   npm run build && node examples/cloudflare-worker/train-conv.mjs [--epochs 2] [--limit-train N] [--save examples/cloudflare-worker/model-conv.safetensors]
import { writeFileSync } from 'node:fs';
import * as sg from '../../dist/snapgrad.js';
import { megabytes, now, parseFlags } from '../common.mjs';

const flags = parseFlags({ epochs: 2, seed: 1, data: '', batch: 64, lr: 0.01, limitTrain: 0, limitTest: 0, save: new URL('./model-conv.safetensors', import.meta.url).pathname });
const start = now();
await sg.init();
const raw = await sg.io.loadMnist(flags.data || undefined, { limitTrain: flags.limitTrain || undefined, limitTest: flags.limitTest || undefined });
const images = (t) => sg.keep(t.reshape([t.shape[0], 28, 28, 1]));
const trainX = images(raw.trainImages), testX = images(raw.testImages);

const { nn, optim } = sg;
const s = flags.seed * 100;
const model = new nn.Sequential(
  new nn.BinaryConv2d(1, 16, 3, { binarizeInputs: false, uint8Inputs: true, padding: 'same', seed: s }), new nn.BatchNorm2d(16), new nn.Sign({ grad: 'clipped' }), new nn.MaxPool2d(2),
  new nn.BinaryConv2d(16, 32, 3, { padding: 'same', seed: s + 1 }), new nn.BatchNorm2d(32), new nn.Binarize({ grad: 'clipped' }), new nn.MaxPool2d(2),
  new nn.Flatten(), new nn.BinaryLinear(7 * 7 * 32, 10, { seed: s + 2 }), new nn.BatchNorm1d(10),
);
const loader = (x, y, options) => new sg.data.DataLoader({ x, y }, { ...options, dtypes: { x: 'float32', y: 'int32' } });
const train = loader(trainX, raw.trainLabels, { batchSize: flags.batch, shuffle: true, seed: flags.seed, dropLast: true });
const test = loader(testX, raw.testLabels, { batchSize: 1000 });
const optimizer = new optim.Adam(model.parameters(), { lr: flags.lr });
const schedule = new optim.CosineLR(optimizer, flags.epochs * train.length, flags.lr * 0.01);
sg.fit(model, train, { optimizer, schedule, loss: 'crossEntropy', epochs: flags.epochs, metrics: ['accuracy'] });

model.eval();
const trained = sg.evaluate(model, test, { metrics: ['accuracy'] }).accuracy;
const example = sg.tidy(() => trainX.slice([0, 0, 0, 0], [1, 28, 28, 1]));
const frozen = sg.freeze(model, { example });
example.dispose();
const frozenAccuracy = sg.evaluate((x) => frozen.predict(x), test, { metrics: ['accuracy'] }).accuracy;
console.log(frozen.summary());
const { tensors, metadata } = frozen.state();
writeFileSync(flags.save, sg.io.saveSafetensors(tensors, metadata));
console.log(`test accuracy ${(100 * trained).toFixed(2)}% (frozen ${(100 * frozenAccuracy).toFixed(2)}%) in ${Math.round((now() - start) / 1000)} s; saved ${megabytes(frozen.sizeBytes)} to ${flags.save}`);
