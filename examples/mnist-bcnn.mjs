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
import * as sg from '../dist/snapgrad.js';
import { binaryCnn, freezeAndReport, loadDataset, now, parseFlags, trainMnistClassifier } from './common.mjs';

const flags = parseFlags({ epochs: 8, seed: 1, data: '', batch: 128, lr: 0.005, channels: 64, hidden: 512, shift: 2, limitTrain: 0, limitTest: 0, save: '' });
const start = now();
const info = await sg.init();
const data = await loadDataset(flags.data, flags);
console.log(`snapgrad ${info.build} on ${info.runtime}: MNIST ${data.trainX.shape[0]} train / ${data.testX.shape[0]} test images loaded in ${((now() - start) / 1000).toFixed(1)} s`);

const model = binaryCnn({ channels: flags.channels, hidden: flags.hidden, seed: flags.seed * 1000 });
// No per-epoch test pass: the run is timed (issue 12: <= 10 minutes); the test set is evaluated once at the end.
const { test, history, trained } = trainMnistClassifier(model, data, flags, { validateEachEpoch: false });
const example = sg.keep(sg.zeros([1, 784]));
const stats = sg.summary(model, { example });
console.log(`\n${stats.table}\n`);

freezeAndReport(model, test, { freezeOptions: { example, uint8Inputs: true }, save: flags.save, start, trained, history, stats });
