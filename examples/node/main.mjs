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
const rows = (images) => sg.keep(sg.tidy(() => sg.cast(images.reshape([images.shape[0], 784]), 'float32')));
const labels = (t) => sg.keep(sg.tidy(() => sg.cast(t, 'int32')));
const trainX = rows(mnist.trainImages);
const trainY = labels(mnist.trainLabels);
const testX = rows(mnist.testImages);
const testY = labels(mnist.testLabels);
for (const t of Object.values(mnist)) t.dispose();

const { nn, optim } = sg;
const model = new nn.Sequential(
  new nn.BinaryLinear(784, 256, { binarizeInputs: false, uint8Inputs: true, seed: 1 }), // raw pixels in, ±1 weights
  new nn.BatchNorm1d(256),
  new nn.Binarize({ grad: 'clipped' }), // ±1 activations, clipped straight-through gradient
  new nn.BinaryLinear(256, 10, { seed: 2 }),
  new nn.BatchNorm1d(10),
);
const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
const batch = 100;

for (let epoch = 1; epoch <= epochs; epoch++) {
  model.train();
  let lossSum = 0;
  const steps = Math.floor(trainCount / batch);
  for (let step = 0; step < steps; step++) {
    lossSum += sg.tidy(() => {
      const x = sg.slice(trainX, [step * batch, 0], [batch, 784]);
      const y = sg.slice(trainY, [step * batch], [batch]);
      const loss = sg.crossEntropy(model.forward(x), y);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      return loss.item();
    });
  }
  console.log(`epoch ${epoch}: mean loss ${(lossSum / steps).toFixed(4)}`);
}

function accuracy(predict) {
  return sg.tidy(() => {
    const predicted = sg.argmax(predict(testX), { axis: 1 }).dataSync();
    const truth = testY.dataSync();
    let hits = 0;
    for (let i = 0; i < truth.length; i++) hits += predicted[i] === truth[i] ? 1 : 0;
    return (100 * hits) / truth.length;
  });
}

model.eval();
const trained = accuracy((x) => model.forward(x));
const frozen = sg.freeze(model, { integerInputMax: 255 });
console.log(`test accuracy ${trained.toFixed(2)}%, frozen ${accuracy((x) => frozen.predict(x)).toFixed(2)}%, frozen size ${frozen.sizeBytes} bytes`);
if (values.save) {
  const { tensors, metadata } = frozen.state();
  writeFileSync(values.save, sg.io.saveSafetensors(tensors, metadata));
  console.log(`saved ${values.save}`);
}
