// A binary CNN on MNIST: binary weights AND binary activations in every conv
// and dense layer except the first conv (float weights on the raw pixels) and
// the last dense layer (float weights on binary inputs, the usual BNN
// classifier). Each conv is conv -> 2x2 max-pool -> batch norm -> sign, and
// the hidden dense layer has batch norm too. Training shifts each image by up
// to --shift pixels (seeded). Trained with straight-through estimators, then
// frozen: batch norm + sign fold into per-channel integer thresholds, and
// activations stay bit-packed from the second conv to the classifier (binary
// conv, max-pool and dense layers on packed words).
//
//   node examples/mnist-bcnn.mjs [--epochs 8] [--seed 1] [--data DIR] [--batch 128] [--lr 0.005] [--channels 64]
//                                [--hidden 512] [--shift 2] [--limit-train N] [--limit-test N] [--save model.safetensors]
import { writeFileSync } from 'node:fs';
import * as sg from '../dist/snapgrad.js';
import { binaryCnn, loadDataset, megabytes, mnistLoader, now, parseFlags, predictedClasses } from './common.mjs';

const flags = parseFlags({ epochs: 8, seed: 1, data: '', batch: 128, lr: 0.005, channels: 64, hidden: 512, shift: 2, limitTrain: 0, limitTest: 0, save: '' });
const start = now();
const info = await sg.init();
const data = await loadDataset(flags.data, flags);
console.log(`snapgrad ${info.build} on ${info.runtime}: MNIST ${data.trainX.shape[0]} train / ${data.testX.shape[0]} test images loaded in ${((now() - start) / 1000).toFixed(1)} s`);

const { optim } = sg;
const model = binaryCnn({ channels: flags.channels, hidden: flags.hidden, seed: flags.seed * 1000 });
const train = mnistLoader(data.trainX, data.trainY, { batchSize: flags.batch, shuffle: true, seed: flags.seed, dropLast: true, shift: flags.shift });
const test = mnistLoader(data.testX, data.testY, { batchSize: 1000 });
const optimizer = new optim.Adam(model.parameters(), { lr: flags.lr });
const schedule = new optim.CosineLR(optimizer, flags.epochs * train.length, flags.lr * 0.01);

const history = sg.fit(model, train, {
  optimizer, schedule, loss: 'crossEntropy', epochs: flags.epochs,
  metrics: ['accuracy'], validation: test, validationMetrics: ['accuracy'],
});

model.eval();
const trained = sg.evaluate(model, test, { metrics: ['accuracy'] }).accuracy;
const example = sg.keep(sg.zeros([1, 784]));
const stats = sg.summary(model, { example });
console.log(`\n${stats.table}\n`);

const frozen = sg.freeze(model, { example, uint8Inputs: true });
const predictFrozen = (x) => frozen.predict(x);
const frozenAccuracy = sg.evaluate(predictFrozen, test, { metrics: ['accuracy'] }).accuracy;
const trainedClasses = predictedClasses(model, test);
const same = predictedClasses(predictFrozen, test).every((p, i) => p === trainedClasses[i]);
console.log(frozen.summary());
console.log(`frozen model: ${megabytes(frozen.sizeBytes)}, predictions identical to the trained model's: ${same ? 'yes' : 'NO'}`);
if (flags.save) {
  const { tensors, metadata } = frozen.state();
  writeFileSync(flags.save, sg.io.saveSafetensors(tensors, metadata));
  console.log(`saved the frozen model to ${flags.save}`);
}
const seconds = (now() - start) / 1000;
console.log(`test accuracy ${(100 * trained).toFixed(2)}% (frozen ${(100 * frozenAccuracy).toFixed(2)}%) in ${Math.round(seconds)} s (training ${Math.round(history.trainSeconds)} s), weights ${megabytes(stats.float32Bytes)} -> ${megabytes(frozen.sizeBytes)}`);
