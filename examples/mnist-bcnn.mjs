// A binary CNN on MNIST: binary weights AND binary activations in every conv
// and dense layer except the first conv (binary weights on raw uint8 pixels,
// so its sums are exact integers) and the last dense layer (float weights on
// binary inputs, the usual BNN classifier). Batch norm after every conv and
// the hidden dense layer; max-pool on the binarized activations. Trained with
// straight-through estimators, then frozen: batch norm + sign fold into
// per-channel integer thresholds, and activations stay bit-packed from the
// first conv to the classifier (binary convs, max-pool on packed words).
//
//   node examples/mnist-bcnn.mjs [--epochs 4] [--seed 1] [--data DIR] [--batch 128] [--lr 0.005]
//                                [--channels 32] [--hidden 256] [--limit-train N] [--limit-test N] [--save model.safetensors]
import * as sg from '../dist/snapgrad.js';
import { binaryCnn, freezeAndReport, loadDataset, now, parseFlags, trainMnistClassifier } from './common.mjs';

const flags = parseFlags({ epochs: 4, seed: 1, data: '', batch: 128, lr: 0.005, channels: 32, hidden: 256, limitTrain: 0, limitTest: 0, save: '' });
const start = now();
const info = await sg.init();
const data = await loadDataset(flags.data, flags);
console.log(`snapgrad ${info.build} on ${info.runtime}: MNIST ${data.trainX.shape[0]} train / ${data.testX.shape[0]} test images loaded in ${((now() - start) / 1000).toFixed(1)} s`);

const model = binaryCnn({ channels: flags.channels, hidden: flags.hidden, seed: flags.seed * 1000 });
const { test, history, trained } = trainMnistClassifier(model, data, flags);
const example = sg.keep(sg.zeros([1, 784]));
const stats = sg.summary(model, { example });
console.log(`\n${stats.table}\n`);

freezeAndReport(model, test, { freezeOptions: { example, uint8Inputs: true }, save: flags.save, start, trained, history, stats });
