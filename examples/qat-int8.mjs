// Quantization-aware training: the same MLP trained in float32 and with 8-bit
// fake quantization of weights (per channel) and activations (per tensor),
// then frozen to int8 weights that run on the int8 GEMM. Reports the accuracy
// of all three and the weight sizes.
//
//   node examples/qat-int8.mjs [--epochs 3] [--seed 1] [--data DIR] [--hidden 512] [--bits 8] [--limit-train N] [--limit-test N]
import * as sg from '../dist/snapgrad.js';
import { loadDataset, megabytes, mnistLoader, now, parseFlags } from './common.mjs';

const flags = parseFlags({ epochs: 3, seed: 1, data: '', hidden: 512, bits: 8, batch: 128, lr: 0.001, limitTrain: 0, limitTest: 0 });
const start = now();
await sg.init();
const data = await loadDataset(flags.data, flags);
const test = mnistLoader(data.testX, data.testY, { unitRange: true, batchSize: 1000 });
const { nn, optim } = sg;
const H = flags.hidden;

function mlp(quantized, seed) {
  const layer = (i, o) => (quantized ? new nn.QuantLinear(i, o, { weightBits: flags.bits, activationBits: flags.bits, seed: seed++ }) : new nn.Linear(i, o, { seed: seed++ }));
  return new nn.Sequential(layer(784, H), new nn.ReLU(), layer(H, H), new nn.ReLU(), layer(H, 10));
}

function train(model, name) {
  console.log(name);
  const loader = mnistLoader(data.trainX, data.trainY, { unitRange: true, batchSize: flags.batch, shuffle: true, seed: flags.seed, dropLast: true });
  const optimizer = new optim.Adam(model.parameters(), { lr: flags.lr });
  const schedule = new optim.CosineLR(optimizer, flags.epochs * loader.length, flags.lr * 0.01);
  sg.fit(model, loader, { optimizer, schedule, loss: 'crossEntropy', epochs: flags.epochs, validation: test, validationMetrics: ['accuracy'] });
  optimizer.dispose();
}

const accuracy = (model) => (100 * sg.evaluate(model, test, { metrics: ['accuracy'] }).accuracy);

const floatModel = mlp(false, flags.seed * 1000);
train(floatModel, 'float32');
const qatModel = mlp(true, flags.seed * 1000);
train(qatModel, `QAT ${flags.bits}-bit`);

floatModel.eval();
qatModel.eval();
const floatAcc = accuracy(floatModel);
const qatAcc = accuracy(qatModel);
const frozen = sg.freeze(qatModel);
const frozenAcc = accuracy((x) => frozen.predict(x));
console.log(`\n${sg.summary(qatModel).table}\n`);
console.log(frozen.summary());
const floatBytes = sg.summary(floatModel).float32Bytes;
console.log(
  `float32 ${floatAcc.toFixed(2)}%, QAT ${qatAcc.toFixed(2)}%, frozen int8 ${frozenAcc.toFixed(2)}% ` +
  `(drop ${(floatAcc - frozenAcc).toFixed(2)} points) in ${Math.round((now() - start) / 1000)} s, weights ${megabytes(floatBytes)} -> ${megabytes(frozen.sizeBytes)}`,
);
