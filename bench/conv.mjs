// f32 conv2d: snapgrad against tfjs-wasm (XNNPACK, one thread) in the same
// process, forward and both gradients, on the training shapes of a small
// MNIST CNN and one 1x1 convolution. Prints one table and writes
// bench/results/conv.json.  Usage: npm run bench:conv [-- --quick]
//
// The gradients are timed alone: this script bundles snapgrad from src/ with
// its conv bindings (one module, one runtime), so dx and dW run without the
// forward. tfjs-wasm has no Conv2DBackpropFilter kernel (tf.grads of conv2d
// with respect to the filter throws "not registered for backend 'wasm'"), so
// its weight gradient runs as the wasm Conv3DBackpropFilterV2 kernel on a
// depth-1 volume, the one native filter-gradient kernel it has; its input
// gradient is tf.conv2dTranspose (Conv2DBackpropInput). The depthwise row
// compares tf.depthwiseConv2d forward only (no depthwise gradient kernels in
// tfjs-wasm).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import * as esbuild from 'esbuild';
import { formatTable, gops, measure, median, seededFloats } from './harness.mjs';
import { loadTfjsWasm } from './suites/f32.mjs';

const quick = process.argv.includes('--quick');
const root = new URL('../', import.meta.url);

const built = await esbuild.build({
  stdin: {
    contents: "export * from './src/index.ts'; export { conv2dF32BackwardInput, conv2dF32BackwardFilter } from './src/kernels/conv.ts'; export { conv2dShape } from './src/ops/conv.ts';",
    resolveDir: root.pathname, loader: 'ts',
  },
  bundle: true, write: false, format: 'esm', platform: 'node', logLevel: 'error',
});
const sg = await import(`data:text/javascript;base64,${Buffer.from(built.outputFiles[0].text).toString('base64')}`);
// The single-thread build: no worker pool, so snapgrad runs on one thread; tfjs is pinned to one by loadTfjsWasm.
const info = await sg.init({ wasm: readFileSync(new URL('dist/snapgrad.simd.wasm', root)) });
const threads = { snapgrad: info.threads, tfjs: 1 };
const tf = await loadTfjsWasm();

const SHAPES = [
  { name: 'conv1 28x28x1 -> 32, 3x3 same', x: [64, 28, 28, 1], k: 3, cout: 32 },
  { name: 'conv2 14x14x32 -> 64, 3x3 same', x: [64, 14, 14, 32], k: 3, cout: 64 },
  { name: 'conv3 7x7x64 -> 64, 3x3 same', x: [64, 7, 7, 64], k: 3, cout: 64 },
  { name: '1x1 14x14x64 -> 64', x: [64, 14, 14, 64], k: 1, cout: 64 },
  { name: 'depthwise 14x14x32, 3x3 same', x: [64, 14, 14, 32], k: 3, cout: 32, groups: 32 },
];

/** V8 tiers wasm up on later calls: run every path before timing. */
function warmUp() {
  const start = performance.now();
  while (performance.now() - start < 1500) {
    for (const s of SHAPES) {
      const g = s.groups ?? 1;
      const x = sg.ones([4, ...s.x.slice(1)]), w = sg.ones([s.k, s.k, s.x[3] / g, s.cout]);
      const shape = sg.conv2dShape(x, w, { padding: 'same', groups: g });
      const y = sg.conv2d(x, w, { padding: 'same', groups: g });
      sg.conv2dF32BackwardInput(y, w, shape).dispose();
      sg.conv2dF32BackwardFilter(x, y, shape).dispose();
      for (const t of [x, w, y]) t.dispose();
    }
  }
}

warmUp();
const rounds = quick ? 1 : 3;
const rows = [];
for (const s of SHAPES) {
  const [N, H, W, C] = s.x;
  const groups = s.groups ?? 1;
  const opts = { padding: 'same', groups };
  const ws = [s.k, s.k, C / groups, s.cout];
  const flops = 2 * N * H * W * s.cout * s.k * s.k * (C / groups);
  const xd = seededFloats(N * H * W * C, 1), wd = seededFloats(s.k * s.k * (C / groups) * s.cout, 2), dyd = seededFloats(N * H * W * s.cout, 3);
  const x = sg.tensor(xd, s.x), w = sg.tensor(wd, ws), dy = sg.tensor(dyd, [N, H, W, s.cout]);
  const shape = sg.conv2dShape(x, w, opts);
  // tfjs: depthwise filters are [kh, kw, C, multiplier], i.e. the same values as HWIO [kh, kw, 1, C] at multiplier 1
  const tx = tf.tensor(xd, s.x), tw = tf.tensor(wd, groups === 1 ? ws : [s.k, s.k, C, s.cout / C]), tdy = tf.tensor(dyd, [N, H, W, s.cout]);
  const tx5 = tf.reshape(tx, [N, 1, H, W, C]), tdy5 = tf.reshape(tdy, [N, 1, H, W, s.cout]);
  const tfForward = () => (groups === 1 ? tf.conv2d(tx, tw, 1, 'same') : tf.depthwiseConv2d(tx, tw, 1, 'same'));
  // tfjs-wasm registers no depthwise gradient kernels: those rows have no peer
  const tfDx = groups === 1 ? () => tf.conv2dTranspose(tdy, tw, s.x, 1, 'same') : null;
  const tfDw = groups === 1 ? () => tf.engine().runKernel('Conv3DBackpropFilterV2', { x: tx5, dy: tdy5 }, { strides: [1, 1, 1], pad: 'same', filterShape: [1, s.k, s.k, C, s.cout] }) : null;
  const cases = {
    forward: [() => sg.conv2d(x, w, opts), tfForward],
    'dx (input grad)': [() => sg.conv2dF32BackwardInput(dy, w, shape), tfDx],
    'dW (weight grad)': [() => sg.conv2dF32BackwardFilter(x, dy, shape), tfDw],
  };
  for (const [what, [fs, ft]] of Object.entries(cases)) {
    // check once that the peer computes the same thing (catches a wrong peer call)
    const agree = ft === null ? '—' : (() => {
      const a = sg.tidy(() => fs().dataSync()), b = tf.tidy(() => ft().dataSync());
      return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= 1e-3 * (1 + Math.abs(b[i]))) ? 'yes' : 'NO';
    })();
    const t = { sg: [], tf: [] };
    for (let r = 0; r < rounds; r++) {
      t.sg.push((await measure(() => fs().dispose(), { minRepeats: 5, minTimeMs: 300 })).medianMs);
      if (ft) t.tf.push((await measure(() => ft().dispose(), { minRepeats: 5, minTimeMs: 300 })).medianMs);
    }
    const a = median(t.sg), b = ft ? median(t.tf) : null;
    rows.push({
      shape: `${s.name} (batch ${N})`, pass: what,
      'snapgrad ms': a.toFixed(2), 'snapgrad GFLOP/s': gops(flops, a).toFixed(1),
      'tfjs-wasm ms': b === null ? 'no kernel' : b.toFixed(2), 'tfjs-wasm GFLOP/s': b === null ? '—' : gops(flops, b).toFixed(1),
      'speedup vs tfjs': b === null ? '—' : `${(b / a).toFixed(2)}x`, agree,
    });
  }
  for (const t of [x, w, dy]) t.dispose();
  for (const t of [tx, tw, tdy, tx5, tdy5]) t.dispose();
}

const columns = ['shape', 'pass', 'snapgrad ms', 'snapgrad GFLOP/s', 'tfjs-wasm ms', 'tfjs-wasm GFLOP/s', 'speedup vs tfjs', 'agree'];
const machine = { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadavg: os.loadavg().map((v) => +v.toFixed(2)) };
console.log(`\n## f32 conv2d, NHWC x HWIO, single thread, medians of ${rounds} rounds (GFLOP/s = 2·N·H·W·Cout·kh·kw·Cin / time)\n`);
console.log(`${machine.cpu}, node ${machine.node}, load average ${machine.loadavg.join(' ')}\n`);
console.log(formatTable(rows, columns));
mkdirSync(new URL('results/', import.meta.url), { recursive: true });
const out = new URL(quick ? 'results/conv.tmp.json' : 'results/conv.json', import.meta.url);
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), machine, threads, rows: rows.map((r) => ({ ...r, threads: info.threads })) }, null, 2) + '\n');
console.log(`\nwrote ${out.pathname}`);
