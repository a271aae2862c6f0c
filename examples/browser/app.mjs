// Trains a binary MLP on a subset of MNIST in the page, drawing the loss of
// every step on a canvas, then reports the test accuracy of the trained and
// the frozen (bit-packed) model. Query parameters change the run:
//   ?train=10000&test=2000&epochs=3&hidden=256&batch=100
import * as sg from 'snapgrad';

const params = new URLSearchParams(location.search);
const setting = (name, fallback) => {
  const v = Number(params.get(name) ?? fallback);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`query parameter ${name} must be a positive integer, got ${params.get(name)}`);
  return v;
};

const $ = (id) => document.getElementById(id);
const log = (line) => ($('log').textContent += `${line}\n`);
const nextFrame = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Loss per step as a line chart with axes, epoch boundaries and labels. */
function drawChart(canvas, losses, totalSteps, stepsPerEpoch) {
  const ctx = canvas.getContext('2d');
  const { width: w, height: h } = canvas;
  const left = 48, right = 12, top = 16, bottom = 32;
  const maxLoss = Math.max(2.5, ...losses);
  const x = (step) => left + ((w - left - right) * step) / Math.max(1, totalSteps - 1);
  const y = (loss) => top + (h - top - bottom) * (1 - loss / maxLoss);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = '#ddd';
  ctx.fillStyle = '#666';
  ctx.font = '12px system-ui, sans-serif';
  ctx.lineWidth = 1;
  for (let v = 0; v <= maxLoss; v += 0.5) {
    ctx.beginPath();
    ctx.moveTo(left, y(v));
    ctx.lineTo(w - right, y(v));
    ctx.stroke();
    ctx.fillText(v.toFixed(1), 8, y(v) + 4);
  }
  for (let s = stepsPerEpoch; s < totalSteps; s += stepsPerEpoch) {
    ctx.strokeStyle = '#f0c36d';
    ctx.beginPath();
    ctx.moveTo(x(s), top);
    ctx.lineTo(x(s), h - bottom);
    ctx.stroke();
  }
  ctx.fillText('step', w - right - 28, h - 10);
  ctx.fillText(`training loss (cross-entropy), ${losses.length}/${totalSteps} steps`, left, h - 10);
  ctx.strokeStyle = '#1565c0';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  losses.forEach((loss, step) => (step === 0 ? ctx.moveTo(x(step), y(loss)) : ctx.lineTo(x(step), y(loss))));
  ctx.stroke();
}

function accuracy(predict, x, labels) {
  return sg.tidy(() => {
    const predicted = sg.argmax(predict(x), { axis: 1 }).dataSync();
    const truth = labels.dataSync();
    let hits = 0;
    for (let i = 0; i < truth.length; i++) hits += predicted[i] === truth[i] ? 1 : 0;
    return (100 * hits) / truth.length;
  });
}

async function main() {
  const trainCount = setting('train', 10000);
  const testCount = setting('test', 2000);
  const epochs = setting('epochs', 3);
  const hidden = setting('hidden', 256);
  const batch = setting('batch', 100);
  for (const el of document.querySelectorAll('.hidden-size')) el.textContent = String(hidden);

  const info = await sg.init(); // fetches dist/snapgrad.simd.wasm from next to the module
  log(`snapgrad ${info.build} in the ${info.runtime}, crossOriginIsolated: ${globalThis.crossOriginIsolated}`);
  const t0 = performance.now();
  // A path relative to this page: fetched, gunzipped and parsed in the browser.
  const mnist = await sg.io.loadMnist('../data/mnist/', { limitTrain: trainCount, limitTest: testCount });
  const asRows = (images) => sg.keep(sg.tidy(() => sg.cast(images.reshape([images.shape[0], 784]), 'float32')));
  const asLabels = (labels) => sg.keep(sg.tidy(() => sg.cast(labels, 'int32')));
  const trainX = asRows(mnist.trainImages);
  const trainY = asLabels(mnist.trainLabels);
  const testX = asRows(mnist.testImages);
  const testY = asLabels(mnist.testLabels);
  for (const t of Object.values(mnist)) t.dispose();
  log(`MNIST: ${trainCount} training and ${testCount} test images loaded in ${Math.round(performance.now() - t0)} ms`);

  const { nn, optim } = sg;
  const model = new nn.Sequential(
    new nn.BinaryLinear(784, hidden, { binarizeInputs: false, uint8Inputs: true, seed: 1 }),
    new nn.BatchNorm1d(hidden),
    new nn.Binarize({ grad: 'clipped' }),
    new nn.BinaryLinear(hidden, hidden, { seed: 2 }),
    new nn.BatchNorm1d(hidden),
    new nn.Binarize({ grad: 'clipped' }),
    new nn.BinaryLinear(hidden, 10, { seed: 3 }),
    new nn.BatchNorm1d(10),
  );
  const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
  const stepsPerEpoch = Math.floor(trainCount / batch);
  const totalSteps = epochs * stepsPerEpoch;
  const losses = [];
  const canvas = $('chart');
  document.body.dataset.state = 'training';
  const trainStart = performance.now();

  for (let epoch = 1; epoch <= epochs; epoch++) {
    model.train();
    for (let step = 0; step < stepsPerEpoch; step++) {
      losses.push(sg.tidy(() => {
        const x = sg.slice(trainX, [step * batch, 0], [batch, 784]);
        const y = sg.slice(trainY, [step * batch], [batch]);
        const loss = sg.crossEntropy(model.forward(x), y);
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        return loss.item();
      }));
      $('status').textContent = `epoch ${epoch}/${epochs}, step ${step + 1}/${stepsPerEpoch}, loss ${losses.at(-1).toFixed(3)}`;
      drawChart(canvas, losses, totalSteps, stepsPerEpoch);
      await nextFrame(); // let the page paint the chart
    }
    model.eval();
    const acc = accuracy((x) => model.forward(x), testX, testY);
    log(`epoch ${epoch}: test accuracy ${acc.toFixed(2)}%`);
    $('accuracy').textContent = `test accuracy ${acc.toFixed(1)}% after epoch ${epoch}`;
  }

  const seconds = (performance.now() - trainStart) / 1000;
  const trained = accuracy((x) => model.forward(x), testX, testY);
  const frozen = sg.freeze(model, { integerInputMax: 255 });
  const frozenAcc = accuracy((x) => frozen.predict(x), testX, testY);
  $('status').textContent = `done: ${totalSteps} steps in ${seconds.toFixed(1)} s (${Math.round((totalSteps * batch) / seconds)} images/s)`;
  $('accuracy').textContent = `test accuracy ${trained.toFixed(1)}% (frozen to ${(frozen.sizeBytes / 1024).toFixed(1)} kB of packed weights: ${frozenAcc.toFixed(1)}%)`;
  document.body.dataset.state = 'done';
}

main().catch((err) => {
  $('status').textContent = `error: ${err.message}`;
  $('status').className = 'error';
  document.body.dataset.state = 'error';
  console.error(err);
});
