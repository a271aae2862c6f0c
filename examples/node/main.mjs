// snapgrad in Node: train a small binary network on part of MNIST, freeze it
// to bit-packed weights and save it.
//
//   node examples/node/main.mjs [--train 6000] [--epochs 2] [--save model.safetensors]
//
// Inside this repository 'snapgrad' resolves to the package itself (Node's
// self-reference through the exports map); elsewhere `npm install snapgrad`.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as sg from 'snapgrad';

const { values } = parseArgs({ options: { train: { type: 'string', default: '6000' }, epochs: { type: 'string', default: '2' }, save: { type: 'string' } } });
const trainCount = Number(values.train);
const epochs = Number(values.epochs);

const info = await sg.init(); // finds dist/snapgrad.simd.wasm next to the module and reads it with fs
console.log(`snapgrad ${info.build} on ${info.runtime}`);

const mnist = await sg.io.loadMnist(new URL('../data/mnist/', import.meta.url), { limitTrain: trainCount, limitTest: 2000 });
// Batches of float32 pixels (0..255) and int32 labels, converted from the stored uint8 per batch.
const batches = (images, labels, options) => new sg.data.DataLoader({ x: images.reshape([-1, 784]), y: labels }, { dtypes: { x: 'float32', y: 'int32' }, ...options });
const train = batches(mnist.trainImages, mnist.trainLabels, { batchSize: 100, dropLast: true });
const test = batches(mnist.testImages, mnist.testLabels, { batchSize: 500 });

const { nn, optim } = sg;
const model = new nn.Sequential(
  new nn.BinaryLinear(784, 256, { binarizeInputs: false, uint8Inputs: true, seed: 1 }), // raw pixels in, ±1 weights
  new nn.BatchNorm1d(256),
  new nn.Binarize({ grad: 'clipped' }), // ±1 activations, clipped straight-through gradient
  new nn.BinaryLinear(256, 10, { seed: 2 }),
  new nn.BatchNorm1d(10),
);
const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
sg.fit(model, train, { optimizer, loss: 'crossEntropy', epochs }); // a progress bar on a terminal, a line per epoch otherwise

const accuracy = (predict) => 100 * sg.evaluate(predict, test, { metrics: ['accuracy'] }).accuracy;
model.eval();
const trained = accuracy(model);
const frozen = sg.freeze(model, { integerInputMax: 255 });
console.log(`test accuracy ${trained.toFixed(2)}%, frozen ${accuracy((x) => frozen.predict(x)).toFixed(2)}%, frozen size ${frozen.sizeBytes} bytes`);
if (values.save) {
  const { tensors, metadata } = frozen.state();
  writeFileSync(values.save, sg.io.saveSafetensors(tensors, metadata));
  console.log(`saved ${values.save}`);
}
