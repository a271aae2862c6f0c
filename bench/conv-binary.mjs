// Binary convolution on packed bits (binaryConv2d: im2col_b1 + XNOR-popcount
// GEMM + fused output transform) against snapgrad's own f32 conv2d of the same
// ±1 values, 3x3 'same', single-threaded, in this process. Rows: int32 sums
// with one-padding (padValue 1, the fast path), float32 output (scale and bias,
// as a folded batch norm) with padValue 1 and 0, and packed-bits output by
// thresholds (what feeds the next binary layer) with padValue 0. Inputs are
// already packed (a binary layer's input is the previous layer's packed output).
// The kernel bindings are not public API: they are bundled from src/ with the
// library into one module, which loads dist/snapgrad.simd.wasm.
// Writes bench/results/conv-binary.json.
//   node bench/conv-binary.mjs [--quick]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import * as esbuild from 'esbuild';
import { formatTable, measure, median, seededFloats } from './harness.mjs';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 5;
const root = new URL('..', import.meta.url);

async function loadLibrary() {
  const built = await esbuild.build({
    stdin: { contents: "export * from './src/index.ts'; export * as conv from './src/kernels/conv_binary.ts';", resolveDir: root.pathname, loader: 'ts' },
    bundle: true, write: false, format: 'esm', platform: 'node', logLevel: 'error',
  });
  const lib = await import(`data:text/javascript;base64,${Buffer.from(built.outputFiles[0].text).toString('base64')}`);
  // The single-thread build: no worker pool, every contender runs on one thread.
  const info = await lib.init({ wasm: readFileSync(new URL('dist/snapgrad.simd.wasm', root)) });
  return { sg: lib, conv: lib.conv, threads: info.threads };
}

const SHAPES = quick
  ? [[64, 14, 14, 64, 64], [1, 14, 14, 64, 64]]
  : [[64, 14, 14, 64, 64], [64, 7, 7, 128, 128], [1, 14, 14, 64, 64], [1, 7, 7, 128, 128]];

async function main() {
  const { sg, conv, threads } = await loadLibrary();
  const rows = [], cpuRows = [];
  const results = [];
  for (const [N, H, W, C, Cout] of SHAPES) {
    const sign = (v) => (v < 0 ? -1 : 1);
    const x = sg.tensor(seededFloats(N * H * W * C, 1).map(sign), [N, H, W, C]);
    const w = sg.tensor(seededFloats(9 * C * Cout, 2).map(sign), [3, 3, C, Cout]);
    const xb = conv.packChannels(x), wb = conv.packConvWeights(w);
    const base = { inChannels: C, kernelSize: 3, padding: 'same' };
    const scale = seededFloats(Cout, 3).map((v) => 0.5 + Math.abs(v)), bias = seededFloats(Cout, 4);
    const threshold = seededFloats(Cout, 5).map((v) => v * 20), direction = Int32Array.from({ length: Cout }, (_, i) => (i % 5 ? 1 : -1));

    // The f32 conv of the ±1 values is the reference: the binary int32 sums with zero padding must equal it.
    const ref = sg.conv2d(x, w, { padding: 'same' });
    const check = conv.binaryConv2d(xb, wb, { ...base, padValue: 0 });
    const rd = ref.dataSync(), cd = check.dataSync();
    for (let i = 0; i < rd.length; i++) if (rd[i] !== cd[i]) throw new Error(`conv-binary bench: binary conv differs from f32 conv2d at ${i} for [${N},${H},${W},${C}]`);
    ref.dispose();
    check.dispose();

    const contenders = [
      ['f32 conv2d', () => sg.conv2d(x, w, { padding: 'same' }).dispose()],
      ['binary int32, pad 1', () => conv.binaryConv2d(xb, wb, { ...base, padValue: 1 }).dispose()],
      ['binary f32 out, pad 1', () => conv.binaryConv2d(xb, wb, { ...base, padValue: 1, output: 'float32', scale, bias }).dispose()],
      ['binary f32 out, pad 0', () => conv.binaryConv2d(xb, wb, { ...base, padValue: 0, output: 'float32', scale, bias }).dispose()],
      ['binary bits out, pad 0', () => conv.binaryConv2d(xb, wb, { ...base, padValue: 0, output: 'bits', threshold, direction }).dispose()],
    ];
    // Rounds interleave the contenders so machine noise hits them alike; each round's median counts.
    // CPU time (process.cpuUsage) is reported next to wall time: on a shared machine it is the steadier of the two.
    const wall = {}, cpu = {};
    for (const [name] of contenders) { wall[name] = []; cpu[name] = []; }
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, fn] of contenders) {
        const c0 = process.cpuUsage();
        const m = await measure(fn, { warmup: 2, minRepeats: 5, minTimeMs: quick ? 150 : 400 });
        const c = process.cpuUsage(c0);
        wall[name].push(m.medianMs);
        cpu[name].push((c.user + c.system) / 1000 / (m.repeats + 2));
      }
    }
    for (const t of [x, w, xb, wb]) t.dispose();
    const ms = Object.fromEntries(contenders.map(([name]) => [name, median(wall[name])]));
    const cpuMs = Object.fromEntries(contenders.map(([name]) => [name, median(cpu[name])]));
    const shape = `[${N},${H},${W},${C}]->${Cout}`;
    const cell = (t, name) => (name === 'f32 conv2d' ? `${t[name].toFixed(3)}` : `${t[name].toFixed(3)} (${(t['f32 conv2d'] / t[name]).toFixed(1)}x)`);
    rows.push(Object.fromEntries([['shape', shape], ...contenders.map(([name]) => [name, cell(ms, name)])]));
    cpuRows.push(Object.fromEntries([['shape', shape], ...contenders.map(([name]) => [name, cell(cpuMs, name)])]));
    results.push({ N, H, W, C, Cout, kernel: 3, padding: 'same', threads, wallMs: ms, cpuMs });
  }
  const loadAvg = os.loadavg().map((v) => v.toFixed(2)).join(' ');
  const columns = Object.keys(rows[0]);
  console.log(`Binary conv vs f32 conv2d of the same ±1 values (3x3 'same', ms per call, speedup over f32 in parentheses, 1 thread)`);
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, load average ${loadAvg} (at the end)`);
  console.log('\nWall time (median of round medians):');
  console.log(formatTable(rows, columns));
  console.log('\nCPU time of this process (median of rounds):');
  console.log(formatTable(cpuRows, columns));
  mkdirSync(new URL('bench/results/', root), { recursive: true });
  writeFileSync(new URL('bench/results/conv-binary.json', root), JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, loadavgAtEnd: os.loadavg(), quick, threads, results }, null, 2) + '\n');
}

await main();
