// Quantization-aware training: the same MLP trained in float32 and with 8-bit
// fake quantization of weights (per channel) and activations (per tensor),
// then frozen to int8 weights that run on the int8 GEMM. Reports the accuracy
// of all three and the weight sizes.
//
//   node examples/qat-int8.mjs [--epochs 3] [--seed 1] [--data DIR] [--hidden 512] [--bits 8] [--limit-train N] [--limit-test N]
import * as sg from '../dist/snapgrad.js';
import { accuracy, batchOf, loadDataset, megabytes, now, parseFlags, permutation } from './common.mjs';

const flags = parseFlags({ epochs: 3, seed: 1, data: '', hidden: 512, bits: 8, batch: 128, lr: 0.001, limitTrain: 0, limitTest: 0 });
const start = now();
await sg.init();
const data = await loadDataset(flags.data, { ...flags, unitRange: true });
const { nn, optim } = sg;
const H = flags.hidden;

function mlp(quantized, seed) {
  const layer = (i, o) => (quantized ? new nn.QuantLinear(i, o, { weightBits: flags.bits, activationBits: flags.bits, seed: seed++ }) : new nn.Linear(i, o, { seed: seed++ }));
  return new nn.Sequential(layer(784, H), new nn.ReLU(), layer(H, H), new nn.ReLU(), layer(H, 10));
}

function train(model, name) {
  const t0 = now();
  const nTrain = data.trainX.shape[0];
  const stepsPerEpoch = Math.floor(nTrain / flags.batch);
  const optimizer = new optim.Adam(model.parameters(), { lr: flags.lr });
  const schedule = new optim.CosineLR(optimizer, flags.epochs * stepsPerEpoch, flags.lr * 0.01);
  for (let epoch = 1; epoch <= flags.epochs; epoch++) {
    const e0 = now();
    const order = permutation(nTrain, flags.seed * 131 + epoch);
    let lossSum = 0;
    model.train();
    for (let step = 0; step < stepsPerEpoch; step++) {
      lossSum += sg.tidy(() => {
        const { x, y } = batchOf(data.trainX, data.trainY, order, step * flags.batch, flags.batch);
        const loss = sg.crossEntropy(model.forward(x), y);
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        schedule.step();
        return loss.item();
      });
    }
    order.dispose();
    model.eval();
    const test = accuracy((x) => model.forward(x), data.testX, data.testY).accuracy;
    const seconds = (now() - e0) / 1000;
    console.log(`${name} epoch ${epoch}/${flags.epochs}  loss ${(lossSum / stepsPerEpoch).toFixed(4)}  test ${test.toFixed(2)}%  ${Math.round((stepsPerEpoch * flags.batch) / seconds)} samples/s`);
  }
  optimizer.dispose();
  return (now() - t0) / 1000;
}

const floatModel = mlp(false, flags.seed * 1000);
train(floatModel, 'float32');
const qatModel = mlp(true, flags.seed * 1000);
train(qatModel, `QAT ${flags.bits}-bit`);

floatModel.eval();
qatModel.eval();
const floatAcc = accuracy((x) => floatModel.forward(x), data.testX, data.testY).accuracy;
const qatAcc = accuracy((x) => qatModel.forward(x), data.testX, data.testY).accuracy;
const frozen = sg.freeze(qatModel);
const frozenAcc = accuracy((x) => frozen.predict(x), data.testX, data.testY).accuracy;
console.log(`\n${sg.summary(qatModel).table}\n`);
console.log(frozen.summary());
const floatBytes = sg.summary(floatModel).float32Bytes;
console.log(
  `float32 ${floatAcc.toFixed(2)}%, QAT ${qatAcc.toFixed(2)}%, frozen int8 ${frozenAcc.toFixed(2)}% ` +
  `(drop ${(floatAcc - frozenAcc).toFixed(2)} points) in ${Math.round((now() - start) / 1000)} s, weights ${megabytes(floatBytes)} -> ${megabytes(frozen.sizeBytes)}`,
);
