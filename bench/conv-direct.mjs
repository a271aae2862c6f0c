// Direct f32 convolution vs im2col + GEMM: the forward conv2d of this build
// beside a --base build without conv_f32_direct__simd (so every shape there
// takes im2col + GEMM), in one process, rounds alternating the builds. The
// outputs are compared bit for bit (the two paths sum in the same order).
// Times are process CPU time per call (the machine is shared; CPU time leaves
// out waits for a core), best of the rounds. Shapes on both sides of the rule
// in src/kernels/conv.ts convF32DirectPath (marked "direct" if this build
// takes the direct kernel).
//   node bench/conv-direct.mjs --base OLD/dist [--rounds 7]
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatTable, seededFloats } from './harness.mjs';

const argv = process.argv.slice(2);
const flag = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : fallback; };
const BASE = flag('--base', null);
const ROUNDS = Number(flag('--rounds', 7));
if (!BASE) throw new Error('bench/conv-direct.mjs: --base OLD/dist is required (a build without the direct kernel)');

async function load(dir) {
  const sg = await import(pathToFileURL(resolve(dir, 'snapgrad.js')).href);
  await sg.init({ threads: 1 });
  return sg;
}

// [N, H=W, Cin, k, Cout], 'same' padding, stride 1
const SHAPES = [
  [64, 28, 1, 3, 32], [64, 14, 1, 3, 64], [16, 28, 2, 3, 32], [16, 28, 1, 5, 32], [16, 28, 2, 5, 32], [16, 28, 4, 3, 5],
  [16, 28, 3, 3, 16], [16, 28, 3, 3, 32], [64, 28, 3, 3, 32], [16, 28, 3, 3, 64], [16, 28, 4, 3, 8], [16, 28, 4, 3, 32],
  [16, 28, 5, 3, 32], [16, 28, 8, 3, 32], [16, 28, 16, 3, 32], [16, 14, 16, 3, 128], [16, 14, 24, 3, 64], [16, 14, 28, 3, 256],
];

const cpuMs = (fn, reps) => {
  const t = process.cpuUsage();
  for (let i = 0; i < reps; i++) fn();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000 / reps;
};

const builds = [await load(BASE), await load('dist')];
const rows = [];
console.log(`load average at start: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
for (const [N, H, cin, k, cout] of SHAPES) {
  const macs = N * H * H * cout * k * k * cin;
  const reps = Math.max(1, Math.round(3e7 / macs));
  const xs = seededFloats(N * H * H * cin, 1), ws = seededFloats(k * k * cin * cout, 2);
  const setup = builds.map((sg) => {
    const x = sg.keep(sg.tensor(xs, [N, H, H, cin])), w = sg.keep(sg.tensor(ws, [k, k, cin, cout]));
    const run = () => sg.tidy(() => sg.conv2d(x, w, { padding: 'same' }).dispose());
    const bits = sg.tidy(() => new Uint32Array(sg.conv2d(x, w, { padding: 'same' }).dataSync().buffer.slice(0)));
    run();
    return { run, bits, dispose: () => { x.dispose(); w.dispose(); } };
  });
  const best = [Infinity, Infinity];
  for (let r = 0; r < ROUNDS; r++) {
    for (const b of r % 2 ? [1, 0] : [0, 1]) best[b] = Math.min(best[b], cpuMs(setup[b].run, reps));
  }
  const same = setup[0].bits.length === setup[1].bits.length && setup[0].bits.every((v, i) => v === setup[1].bits[i]);
  setup.forEach((s) => s.dispose());
  const direct = cout % 8 === 0 && k * k * cin <= 256 && (cin >= 3 || (cin === 1 && k * k <= 9));
  rows.push({
    shape: `${N}x${H}x${H}x${cin} k${k} -> ${cout}`, K: k * k * cin, path: direct ? 'direct' : 'im2col+GEMM',
    'im2col+GEMM ms': best[0].toFixed(3), 'this build ms': best[1].toFixed(3), 'GMAC/s': (macs / best[1] / 1e6).toFixed(2),
    speedup: `${(best[0] / best[1]).toFixed(2)}x`, 'same bits': same,
  });
}
console.log(formatTable(rows, ['shape', 'K', 'path', 'im2col+GEMM ms', 'this build ms', 'GMAC/s', 'speedup', 'same bits']));
console.log(`load average at end: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
writeFileSync(new URL('./results/conv-direct.json', import.meta.url), JSON.stringify({ date: new Date().toISOString(), loadavg: os.loadavg(), rows }, null, 2) + '\n');
