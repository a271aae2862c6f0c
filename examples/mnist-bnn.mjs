// The main job (npm start): a binary MLP — binary weights AND binary
// activations — trained on MNIST with straight-through estimators, then frozen
// to bit-packed weights that run on the XNOR-popcount kernels.
//
//   node examples/mnist-bnn.mjs [--epochs 5] [--seed 1] [--data DIR] [--batch 128] [--lr 0.01]
//                               [--hidden 1024] [--limit-train N] [--limit-test N] [--save model.safetensors]
import { writeFileSync } from 'node:fs';
import * as sg from '../dist/snapgrad.js';
import { accuracy, batchOf, binaryMlp, loadDataset, megabytes, now, parseFlags, permutation } from './common.mjs';

const flags = parseFlags({ epochs: 5, seed: 1, data: '', batch: 128, lr: 0.01, hidden: 1024, limitTrain: 0, limitTest: 0, save: '' });
const start = now();
const info = await sg.init();
const data = await loadDataset(flags.data, flags);
const nTrain = data.trainX.shape[0];
console.log(`snapgrad ${info.build} on ${info.runtime}: MNIST ${nTrain} train / ${data.testX.shape[0]} test images loaded in ${((now() - start) / 1000).toFixed(1)} s`);

// 784 -> H -> H -> 10. Inputs are raw pixels (0..255): the first layer has
// binary weights and integer inputs, so its sums are exact integers; the
// hidden layers see binary activations. Batch norm follows every layer.
const { optim } = sg;
const model = binaryMlp({ hidden: flags.hidden, seed: flags.seed * 1000 });
const stepsPerEpoch = Math.floor(nTrain / flags.batch);
const optimizer = new optim.Adam(model.parameters(), { lr: flags.lr });
const schedule = new optim.CosineLR(optimizer, flags.epochs * stepsPerEpoch, flags.lr * 0.01);

let trainSeconds = 0;
for (let epoch = 1; epoch <= flags.epochs; epoch++) {
  const t0 = now();
  const order = permutation(nTrain, flags.seed * 7919 + epoch);
  let lossSum = 0;
  let correct = 0;
  model.train();
  for (let step = 0; step < stepsPerEpoch; step++) {
    const [loss, hits] = sg.tidy(() => {
      const { x, y } = batchOf(data.trainX, data.trainY, order, step * flags.batch, flags.batch);
      const logits = model.forward(x);
      const loss = sg.crossEntropy(logits, y);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      schedule.step();
      const pred = sg.argmax(logits, { axis: 1 }).dataSync();
      const truth = y.dataSync();
      let hits = 0;
      for (let i = 0; i < pred.length; i++) hits += pred[i] === truth[i] ? 1 : 0;
      return [loss.item(), hits];
    });
    lossSum += loss;
    correct += hits;
  }
  order.dispose();
  const seconds = (now() - t0) / 1000;
  trainSeconds += seconds;
  model.eval();
  const test = accuracy((x) => model.forward(x), data.testX, data.testY);
  console.log(
    `epoch ${epoch}/${flags.epochs}  loss ${(lossSum / stepsPerEpoch).toFixed(4)}  train ${((100 * correct) / (stepsPerEpoch * flags.batch)).toFixed(2)}%` +
    `  test ${test.accuracy.toFixed(2)}%  ${Math.round((stepsPerEpoch * flags.batch) / seconds)} samples/s  (${((1000 * seconds) / stepsPerEpoch).toFixed(1)} ms/step)`,
  );
}

model.eval();
const trained = accuracy((x) => model.forward(x), data.testX, data.testY);
const stats = sg.summary(model);
console.log(`\n${stats.table}\n`);

// Freeze: packed ±1 weights, batch norm + binarize folded into thresholds.
const frozen = sg.freeze(model, { uint8Inputs: true });
const frozenResult = accuracy((x) => frozen.predict(x), data.testX, data.testY);
const same = frozenResult.predictions.every((p, i) => p === trained.predictions[i]);
console.log(frozen.summary());
console.log(`frozen model: ${megabytes(frozen.sizeBytes)}, predictions identical to the trained model's: ${same ? 'yes' : 'NO'}`);
if (flags.save) {
  const { tensors, metadata } = frozen.state();
  writeFileSync(flags.save, sg.io.saveSafetensors(tensors, metadata));
  console.log(`saved the frozen model to ${flags.save}`);
}
const seconds = (now() - start) / 1000;
console.log(`test accuracy ${trained.accuracy.toFixed(2)}% (frozen ${frozenResult.accuracy.toFixed(2)}%) in ${Math.round(seconds)} s (training ${Math.round(trainSeconds)} s), weights ${megabytes(stats.float32Bytes)} -> ${megabytes(frozen.sizeBytes)}`);
