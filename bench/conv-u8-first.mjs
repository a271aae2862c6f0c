// The frozen uint8-pixel first layer (BinaryConv2d on uint8 pixels -> 2x2
// max-pool -> batch norm -> binarize, frozen: thresholds to bits, pool fused)
// of this build beside a --base build, stage alone, batch 64, 28x28 pixels,
// 32 output channels, at several K = kh·kw·Cin; process CPU time per call,
// best of 7 rounds, 1 thread; the packed outputs compared bit for bit. Used
// to place U8_FLOAT_MAX_K (src/freeze/conv-stages.ts): at or below it the
// stage runs the f32 conv of the ±1 weights instead of conv_u8b1.
//   node bench/conv-u8-first.mjs --base OLD/dist
import os from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const i = argv.indexOf('--base');
if (i < 0) throw new Error('bench/conv-u8-first.mjs: --base OLD/dist is required');
const B = 64;
const cpu = (sg, fn, reps = 10) => {
  sg.tidy(fn);
  let best = Infinity;
  for (let r = 0; r < 7; r++) {
    const t = process.cpuUsage();
    for (let k = 0; k < reps; k++) sg.tidy(fn);
    const d = process.cpuUsage(t);
    best = Math.min(best, (d.user + d.system) / 1000 / reps);
  }
  return best;
};
const builds = [];
for (const d of [argv[i + 1], 'dist']) {
  const sg = await import(pathToFileURL(resolve(d, 'snapgrad.js')).href);
  await sg.init({ threads: 1 });
  builds.push(sg);
}
console.log(`load average at start: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
for (const [cin, k] of [[1, 3], [4, 2], [1, 4], [2, 3], [1, 5], [3, 3], [2, 4], [4, 3]]) {
  const out = [];
  for (const sg of builds) {
    const { nn } = sg;
    const model = new nn.Sequential(
      new nn.BinaryConv2d(cin, 32, k, { binarizeInputs: false, uint8Inputs: true, padding: 'same', bias: false, seed: 1 }),
      new nn.MaxPool2d(2), new nn.BatchNorm2d(32), new nn.Binarize());
    const px = Uint8Array.from({ length: B * 28 * 28 * cin }, (_, j) => (j * 7919) % 256);
    const frozen = sg.tidy(() => sg.freeze(model, { example: sg.tensor(Float32Array.from(px.subarray(0, 784 * cin)), [1, 28, 28, cin]) }));
    const x = sg.keep(sg.tensor(px, [B, 28, 28, cin], { dtype: 'uint8' }));
    const run = () => frozen.stages[0].run({ kind: 'float', t: x });
    const bits = sg.tidy(() => Array.from(run().t.dataSync()));
    out.push({ ms: cpu(sg, run), bits });
    x.dispose();
    frozen.dispose();
    model.dispose();
  }
  const same = out[0].bits.length === out[1].bits.length && out[0].bits.every((v, j) => v === out[1].bits[j]);
  console.log(`K = ${k * k * cin} (${cin} channel${cin > 1 ? 's' : ''}, ${k}x${k}): base ${out[0].ms.toFixed(3)} ms, this build ${out[1].ms.toFixed(3)} ms, ${(out[0].ms / out[1].ms).toFixed(2)}x, same bits: ${same}`);
}
console.log(`load average at end: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
