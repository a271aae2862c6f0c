// Two builds of snapgrad side by side in one process, for the before/after
// comparison of a change that must not cost speed: kernels, the main job's
// training step and frozen inference. Each build is its own module instance
// with its own wasm memory; rows alternate A, B, A, B... so that the machine's
// drift hits both alike, and each cell is the median of the rounds' medians.
//
//   node bench/builds.mjs --a /path/to/old/dist --b dist [--rounds 5] [--only gemm,training]
import os from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { binaryMlp } from '../examples/common.mjs';
import { formatTable, gops, measure, median, seededFloats } from './harness.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const ROUNDS = Number(flag('rounds', 5));
const ONLY = flag('only', '');

async function load(dir) {
  const sg = await import(pathToFileURL(resolve(dir, 'snapgrad.js')).href);
  await sg.init({ threads: 1 }); // the single-thread tables; bench/threads.mjs measures threads
  return sg;
}

/** Each case: setup(sg) -> { run, ops?, unit?, dispose }. */
const CASES = [
  ...[[512, 512, 512], [128, 784, 1024], [1, 784, 1024]].map(([M, K, N]) => ({
    group: 'gemm', name: `matmul f32 ${M}x${K}x${N}`, ops: 2 * M * K * N, unit: 'GFLOP/s',
    setup: (sg) => {
      const a = sg.tensor(seededFloats(M * K, 1), [M, K]), b = sg.tensor(seededFloats(K * N, 2), [K, N]);
      return { run: () => sg.matmul(a, b).dispose(), dispose: () => { a.dispose(); b.dispose(); } };
    },
  })),
  {
    group: 'gemm', name: 'matmul f32 512x512x512 transposeB', ops: 2 * 512 ** 3, unit: 'GFLOP/s',
    setup: (sg) => {
      const a = sg.tensor(seededFloats(512 * 512, 3), [512, 512]), b = sg.tensor(seededFloats(512 * 512, 4), [512, 512]);
      return { run: () => sg.matmul(a, b, { transposeB: true }).dispose(), dispose: () => { a.dispose(); b.dispose(); } };
    },
  },
  {
    group: 'gemm', name: 'int8Matmul 128x784x1024', ops: 2 * 128 * 784 * 1024, unit: 'GOP/s',
    setup: (sg) => {
      const int8 = (n, seed) => sg.tensor(Int8Array.from(seededFloats(n, seed), (v) => Math.round(v * 127)), undefined, { dtype: 'int8' });
      const a = int8(128 * 784, 5).reshape([128, 784]), b = int8(1024 * 784, 6).reshape([1024, 784]);
      return { run: () => sg.int8Matmul(a, b, { transposeB: true }).dispose(), dispose: () => { a.dispose(); b.dispose(); } };
    },
  },
  {
    group: 'gemm', name: 'binaryMatmul 128x4096x1024', ops: 2 * 128 * 4096 * 1024, unit: 'G binop/s',
    setup: (sg) => {
      const a = sg.tidy(() => sg.packBits(sg.tensor(seededFloats(128 * 4096, 7), [128, 4096])));
      const b = sg.tidy(() => sg.packBits(sg.tensor(seededFloats(1024 * 4096, 8), [1024, 4096])));
      return { run: () => sg.binaryMatmul(a, b, 4096).dispose(), dispose: () => { a.dispose(); b.dispose(); } };
    },
  },
  {
    group: 'gemm', name: 'uint8BinaryMatmul 128x784x1024', ops: 2 * 128 * 784 * 1024, unit: 'GOP/s',
    setup: (sg) => {
      const x = sg.tensor(Uint8Array.from(seededFloats(128 * 784, 9), (v) => Math.floor((v + 1) * 128) % 256), [128, 784], { dtype: 'uint8' });
      const w = sg.tidy(() => sg.packBits(sg.tensor(seededFloats(1024 * 784, 10), [1024, 784])));
      return { run: () => sg.uint8BinaryMatmul(x, w).dispose(), dispose: () => { x.dispose(); w.dispose(); } };
    },
  },
  {
    group: 'gemm', name: 'vqNearest 4096x64, 512 codes', ops: 2 * 4096 * 64 * 512, unit: 'GFLOP/s',
    setup: (sg) => {
      const z = sg.tensor(seededFloats(4096 * 64, 11), [4096, 64]), c = sg.tensor(seededFloats(512 * 64, 12), [512, 64]);
      return { run: () => sg.vqNearest(z, c).dispose(), dispose: () => { z.dispose(); c.dispose(); } };
    },
  },
  {
    group: 'training', name: 'BNN training step (784-1024-1024-10, batch 128)', unit: 'ms',
    setup: (sg) => {
      const model = binaryMlp({ lib: sg });
      model.train();
      const optimizer = new sg.optim.Adam(model.parameters(), { lr: 0.01 });
      const x = sg.tensor(Float32Array.from(seededFloats(128 * 784, 13), (v) => Math.floor((v + 1) * 128) % 256), [128, 784]);
      const y = sg.tensor(Int32Array.from(seededFloats(128, 14), (v) => Math.floor((v + 1) * 5) % 10), [128], { dtype: 'int32' });
      const run = () => sg.tidy(() => {
        const loss = sg.crossEntropy(model.forward(x), y);
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
      });
      return { run, dispose: () => { x.dispose(); y.dispose(); } };
    },
  },
  ...[1, 128].map((batch) => ({
    group: 'inference', name: `frozen BNN predict, batch ${batch}`, unit: 'ms',
    setup: (sg) => {
      const model = binaryMlp({ lib: sg });
      model.eval();
      const x = sg.tensor(Uint8Array.from(seededFloats(batch * 784, 15), (v) => Math.floor((v + 1) * 128) % 256), [batch, 784], { dtype: 'uint8' });
      const example = sg.tensor(new Float32Array(784), [1, 784]);
      const frozen = sg.freeze(model, { uint8Inputs: true, example });
      example.dispose();
      return { run: () => frozen.predict(x).dispose(), dispose: () => x.dispose() };
    },
  })),
];

async function main() {
  const a = await load(flag('a', 'dist')), b = await load(flag('b', 'dist'));
  const rows = [];
  for (const c of CASES.filter((c) => !ONLY || ONLY.split(',').includes(c.group))) {
    const sa = c.setup(a), sb = c.setup(b);
    const ms = { a: [], b: [] };
    for (let r = 0; r < ROUNDS; r++) {
      ms.a.push((await measure(sa.run, { minTimeMs: 300 })).medianMs);
      ms.b.push((await measure(sb.run, { minTimeMs: 300 })).medianMs);
    }
    sa.dispose();
    sb.dispose();
    const [ma, mb] = [median(ms.a), median(ms.b)];
    const cell = (m) => (c.ops ? `${gops(c.ops, m).toFixed(1)} ${c.unit}` : `${m.toFixed(3)} ms`);
    rows.push({ case: c.name, A: cell(ma), B: cell(mb), 'B/A time': (mb / ma).toFixed(3) });
    console.log(`${c.name}: A ${cell(ma)}, B ${cell(mb)}`);
  }
  console.log(`\n${os.cpus()[0]?.model ?? 'unknown CPU'}, ${ROUNDS} alternating rounds, medians\n`);
  console.log(formatTable(rows, ['case', 'A', 'B', 'B/A time']));
}

await main();
