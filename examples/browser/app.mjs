// Trains a binary MLP on a subset of MNIST in the page, drawing the loss of
// every step on a canvas, then reports the test accuracy of the trained and
// the frozen (bit-packed) model. Query parameters change the run:
//   ?train=10000&test=2000&epochs=3&hidden=256&batch=100&threads=2
// (threads defaults to one per core, as init() chooses).
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

/** Test accuracy (%) over a DataLoader's batches. */
function accuracy(predict, loader) {
  return 100 * sg.evaluate(predict, loader, { metrics: ['accuracy'] }).accuracy;
}

async function main() {
  const trainCount = setting('train', 10000);
  const testCount = setting('test', 2000);
  const epochs = setting('epochs', 3);
  const hidden = setting('hidden', 256);
  const batch = setting('batch', 100);
  for (const el of document.querySelectorAll('.hidden-size')) el.textContent = String(hidden);

  // Fetches dist/snapgrad.simd-threads.wasm from next to the module and starts one worker per extra
  // core, or per extra thread asked for (the page is crossOriginIsolated: serve.mjs sends COOP/COEP).
  // Training runs on this main thread, which takes its share of every parallel call and spin-waits
  // for the workers' last tiles.
  const info = await sg.init(params.has('threads') ? { threads: setting('threads', 1) } : {});
  document.body.dataset.threads = String(info.threads);
  log(`snapgrad ${info.build} in the ${info.runtime} with ${info.threads} thread${info.threads > 1 ? 's' : ''} (${info.threadsReason}), crossOriginIsolated: ${globalThis.crossOriginIsolated}`);
  const t0 = performance.now();
  // A path relative to this page: fetched, gunzipped and parsed in the browser.
  const mnist = await sg.io.loadMnist('../data/mnist/', { limitTrain: trainCount, limitTest: testCount });
  // Batches of float32 pixels (0..255) and int32 labels, converted from the stored uint8 per batch.
  const batches = (images, labels, options) => new sg.data.DataLoader({ x: images.reshape([-1, 784]), y: labels }, { dtypes: { x: 'float32', y: 'int32' }, ...options });
  const train = batches(mnist.trainImages, mnist.trainLabels, { batchSize: batch, dropLast: true });
  const test = batches(mnist.testImages, mnist.testLabels, { batchSize: 500 });
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
  const stepsPerEpoch = train.length;
  const totalSteps = epochs * stepsPerEpoch;
  const losses = [];
  const canvas = $('chart');
  document.body.dataset.state = 'training';
  const trainStart = performance.now();

  for (let epoch = 1; epoch <= epochs; epoch++) {
    model.train();
    // sg.fit would train without giving the page a frame between steps; this loop yields after each one.
    let step = 0;
    for (const { x, y } of train) {
      losses.push(sg.tidy(() => {
        const loss = sg.crossEntropy(model.forward(x), y);
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        return loss.item();
      }));
      step++;
      $('status').textContent = `epoch ${epoch}/${epochs}, step ${step}/${stepsPerEpoch}, loss ${losses.at(-1).toFixed(3)}`;
      drawChart(canvas, losses, totalSteps, stepsPerEpoch);
      await nextFrame(); // let the page paint the chart
    }
    model.eval();
    const acc = accuracy(model, test);
    log(`epoch ${epoch}: test accuracy ${acc.toFixed(2)}%`);
    $('accuracy').textContent = `test accuracy ${acc.toFixed(1)}% after epoch ${epoch}`;
  }

  const seconds = (performance.now() - trainStart) / 1000;
  const trained = accuracy(model, test);
  const frozen = sg.freeze(model, { integerInputMax: 255 });
  const frozenAcc = accuracy((x) => frozen.predict(x), test);
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
