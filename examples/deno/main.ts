// snapgrad in Deno: load the frozen binary MNIST model that ships with the
// Cloudflare Worker example, classify test images and draw one of them.
//
//   deno run --allow-read examples/deno/main.ts [count]
//
// Outside this repository import the package with `npm:snapgrad` (or from a
// node_modules install); a plain path import of dist/snapgrad.js works too.
// --allow-read lets init() read the wasm that sits next to the module.
import * as sg from 'snapgrad';

const count = Number(Deno.args[0] ?? 1000);
const info = await sg.init();
console.log(`snapgrad ${info.build} on ${info.runtime}`);

const { tensors, metadata } = await sg.io.loadSafetensors(new URL('../cloudflare-worker/model.safetensors', import.meta.url));
const model = sg.FrozenModel.fromState(tensors, metadata);
const mnist = new URL('../data/mnist/', import.meta.url);
const images = await sg.io.loadIdx(new URL('t10k-images-idx3-ubyte.gz', mnist));
const labels = await sg.io.loadIdx(new URL('t10k-labels-idx1-ubyte.gz', mnist));
const n = Math.min(count, images.shape[0]);

const predicted = sg.tidy(() => {
  // The model takes raw uint8 pixels (frozen with uint8 inputs): no float copy.
  const x = sg.slice(images, [0, 0, 0], [n, 28, 28]).reshape([n, 784]);
  return Array.from(sg.argmax(model.predict(x), { axis: 1 }).dataSync());
});
const truth = Array.from(labels.dataSync().subarray(0, n));
const hits = predicted.filter((p, i) => p === truth[i]).length;
console.log(`frozen model (${model.sizeBytes} bytes): ${hits}/${n} test images correct (${((100 * hits) / n).toFixed(1)}%)`);

const pixels = images.dataSync().subarray(0, 784);
const shades = ' .:-=+*#%@';
for (let r = 0; r < 28; r += 2) {
  let line = '';
  for (let c = 0; c < 28; c++) line += shades[Math.floor((pixels[r * 28 + c] * (shades.length - 1)) / 255)];
  console.log(line);
}
console.log(`the first test image is a ${truth[0]}; the model says ${predicted[0]}`);
