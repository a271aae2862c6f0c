// Threads: snapgrad at 1 and 2 threads in the same process, interleaved
// (rounds alternate the thread counts so machine noise hits both alike):
// the GEMMs at 128x1024x784 and larger, the BNN training step of
// bench/training.mjs, and the pool's overhead on a 1x1024x784 GEMV (which
// stays on the calling thread below the cost threshold). tfjs-wasm
// (setThreadsCount) runs in its own processes, one per thread count, because
// its thread count is fixed when its backend starts; so does onnxruntime-web
// (ort.env.wasm.numThreads) for the int8 GEMM (MatMulInteger). The ceiling
// column is what two independent single-thread instances (own memory, no
// pool, no synchronization) reach together against one alone, measured in
// alternating rounds: the most 2 threads can give on this machine.
// Writes bench/results/threads.json.  Usage: node bench/threads.mjs [--quick]
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as sg from '../dist/snapgrad.js';
import { Worker } from 'node:worker_threads';
import { formatTable, gops, measure, median, seededFloats } from './harness.mjs';
import { threadCases } from './threads-cases.mjs';

const quick = process.argv.includes('--quick');
const THREADS = [1, 2];

/**
 * Runs `script` as an ES module file next to this one (bare imports resolve through the
 * repository's node_modules; peers' own worker threads reject node -e's --input-type flag)
 * and parses the last line it prints, or returns { error }.
 */
function runChild(script) {
  const file = new URL(`./.threads-child-${process.pid}.mjs`, import.meta.url);
  writeFileSync(file, script);
  try {
    const stdout = execFileSync(process.execPath, [fileURLToPath(file)], { encoding: 'utf8', timeout: 300_000 });
    return JSON.parse(stdout.trim().split('\n').pop());
  } catch (err) {
    return { error: String(err.message).split('\n').slice(0, 3).join(' ') };
  } finally {
    rmSync(file, { force: true });
  }
}

/** tfjs-wasm f32 matmul at `threads` threads, in a child process: GFLOP/s per shape, or the error. */
function tfjsRun(threads, shapes) {
  const script = `
    const tf = await import('@tensorflow/tfjs-core');
    const tfw = await import('@tensorflow/tfjs-backend-wasm');
    const { createRequire } = await import('node:module');
    const path = await import('node:path');
    const { measure, seededFloats } = await import(${JSON.stringify(new URL('./harness.mjs', import.meta.url).href)});
    const require = createRequire(import.meta.url);
    tfw.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + path.sep);
    tfw.setThreadsCount(${threads});
    await tf.setBackend('wasm');
    await tf.ready();
    const out = {};
    for (const [M, N, K] of ${JSON.stringify(shapes)}) {
      const a = tf.tensor(seededFloats(M * K, 1), [M, K]), b = tf.tensor(seededFloats(K * N, 2), [K, N]);
      const m = await measure(() => tf.matMul(a, b).dispose(), { minTimeMs: ${quick ? 300 : 1000} });
      out[M + 'x' + N + 'x' + K] = 2 * M * N * K / (m.medianMs * 1e6);
    }
    out.threads = tfw.getThreadsCount ? tfw.getThreadsCount() : null;
    console.log(JSON.stringify(out));`;
  return runChild(script);
}

/** onnxruntime-web MatMulInteger (int8 x int8 -> int32) at `threads` threads, in a child process: GOP/s, or the error. */
function ortRun(threads, [M, N, K]) {
  const script = `
    const { loadOrt, matMulIntegerModel } = await import(${JSON.stringify(new URL('./onnx.mjs', import.meta.url).href)});
    const { measure, seededFloats } = await import(${JSON.stringify(new URL('./harness.mjs', import.meta.url).href)});
    const ort = await loadOrt();
    ort.env.wasm.numThreads = ${threads};
    const session = await ort.InferenceSession.create(matMulIntegerModel(${M}, ${N}, ${K}, 'int8'));
    const A = new ort.Tensor('int8', Int8Array.from(seededFloats(${M * K}, 3), (v) => Math.round(v * 127)), [${M}, ${K}]);
    const B = new ort.Tensor('int8', Int8Array.from(seededFloats(${K * N}, 4), (v) => Math.round(v * 127)), [${K}, ${N}]);
    const m = await measure(() => session.run({ A, B }), { minTimeMs: ${quick ? 300 : 1000} });
    console.log(JSON.stringify({ gops: 2 * ${M * N * K} / (m.medianMs * 1e6), numThreads: ort.env.wasm.numThreads }));`;
  return runChild(script);
}

/**
 * Per case, the rate of two independent single-thread instances running at
 * once over the rate of one alone (medians of alternating rounds).
 */
async function ceilings(count) {
  const url = new URL('./threads-ceiling-worker.mjs', import.meta.url);
  const workers = [0, 1].map(() => new Worker(url));
  await Promise.all(workers.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); })));
  const ask = (w, index, ms) => new Promise((resolve) => { w.once('message', resolve); w.postMessage({ index, ms }); });
  const ms = quick ? 200 : 500;
  const out = [];
  for (let index = 0; index < count; index++) {
    const alone = [], pair = [];
    for (let r = 0; r < (quick ? 2 : 6); r++) {
      alone.push(await ask(workers[r % 2], index, ms));
      const both = await Promise.all(workers.map((w) => ask(w, index, ms)));
      pair.push(both[0] + both[1]);
    }
    out.push(median(pair) / median(alone));
  }
  await Promise.all(workers.map((w) => w.terminate()));
  return out;
}

async function main() {
  const info = await sg.init({ threads: 2 });
  // Many short alternating rounds: this shared host's speed drifts within seconds.
  const rounds = quick ? 2 : 8;
  const opts = { warmup: 2, minRepeats: 5, minTimeMs: quick ? 200 : 400 };
  const cases = threadCases(sg);

  const samples = cases.map(() => ({ 1: [], 2: [] }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of cases.entries()) {
      for (const t of r % 2 === 0 ? THREADS : [...THREADS].reverse()) {
        // Without a pool (single-thread build) setThreads gives 1: a "2 threads" column must not hold a 1-thread run.
        const { threads } = await sg.setThreads(t);
        if (threads !== t) throw new Error(`bench/threads.mjs: setThreads(${t}) gave ${threads} thread(s) (${sg.info().threadsReason}); the ${info.build} build cannot run this comparison`);
        samples[i][t].push((await measure(c.run, opts)).medianMs);
      }
    }
  }
  for (const c of cases) c.dispose();
  const ceiling = await ceilings(cases.length);
  const rows = cases.map((c, i) => {
    const ms1 = median(samples[i][1]), ms2 = median(samples[i][2]);
    const rate = (ms) => (c.unit === 'steps/s' ? 1000 / ms : gops(c.ops, ms));
    return {
      kernel: c.name, shape: c.shape, unit: c.unit,
      '1 thread ms': ms1.toFixed(3), '2 threads ms': ms2.toFixed(3),
      '1 thread rate': rate(ms1).toFixed(1), '2 threads rate': rate(ms2).toFixed(1),
      'speedup 2 vs 1': `${(ms1 / ms2).toFixed(2)}x`,
      'ceiling (2 independent)': `${ceiling[i].toFixed(2)}x`,
    };
  });
  const shapes = [[128, 1024, 784], [256, 1024, 1024], [512, 512, 512]];
  const tfjs = Object.fromEntries(THREADS.map((t) => [t, tfjsRun(t, shapes)]));
  const peerRows = shapes.map(([M, N, K]) => {
    const key = `${M}x${N}x${K}`;
    const row = { kernel: 'gemm_f32 vs tfjs-wasm', shape: key };
    for (const t of THREADS) {
      const ours = rows.find((r) => r.kernel === 'gemm_f32' && r.shape === key)[`${t === 1 ? '1 thread' : '2 threads'} rate`];
      // tfjs-wasm runs its threaded binary only where it can start pthreads; in Node it reports 1 thread.
      const peer = tfjs[t].error || tfjs[t].threads !== t ? null : tfjs[t][key];
      row[`snapgrad ${t}T GFLOP/s`] = ours;
      row[`tfjs-wasm ${t}T GFLOP/s`] = peer === null ? `n/a (${tfjs[t].error ?? `ran ${tfjs[t].threads} thread`})` : peer.toFixed(1);
      row[`ratio ${t}T`] = peer === null ? 'n/a' : `${(Number(ours) / peer).toFixed(2)}x`;
    }
    return row;
  });
  const ort = Object.fromEntries(THREADS.map((t) => [t, ortRun(t, [128, 1024, 784])]));
  const s8 = rows.find((r) => r.kernel === 'gemm_s8');
  const ortRow = { kernel: 'gemm_s8 vs onnxruntime-web MatMulInteger', shape: s8.shape };
  for (const t of THREADS) {
    const ours = s8[`${t === 1 ? '1 thread' : '2 threads'} rate`];
    ortRow[`snapgrad ${t}T GOP/s`] = ours;
    ortRow[`ort ${t}T GOP/s`] = ort[t].error ? `n/a (${ort[t].error})` : ort[t].gops.toFixed(1);
    ortRow[`ratio ${t}T`] = ort[t].error ? 'n/a' : `${(Number(ours) / ort[t].gops).toFixed(2)}x`;
  }
  const load = os.loadavg();
  const cpu = os.cpus()[0]?.model;
  console.log(`\n## Threads: snapgrad at 1 and 2 threads (${info.runtime}, ${info.build}; ${cpu}, ${os.cpus().length} cores, load average ${load.map((l) => l.toFixed(2)).join(' ')})\n`);
  console.log(formatTable(rows, Object.keys(rows[0])));
  console.log(`\n## f32 GEMM vs tfjs-wasm at equal thread counts (tfjs reported threads: ${THREADS.map((t) => tfjs[t].threads ?? tfjs[t].error).join(', ')})\n`);
  console.log(formatTable(peerRows, Object.keys(peerRows[0])));
  console.log('\n## int8 GEMM vs onnxruntime-web at equal thread counts (numThreads)\n');
  console.log(formatTable([ortRow], Object.keys(ortRow)));
  // Thread counts per contender and column: snapgrad's are checked above; the peers' as they reported them.
  const threads = { snapgrad: THREADS, tfjs: Object.fromEntries(THREADS.map((t) => [t, tfjs[t].threads ?? '?'])), ort: Object.fromEntries(THREADS.map((t) => [t, ort[t].numThreads ?? '?'])) };
  const result = { date: new Date().toISOString(), machine: { cpu, cores: os.cpus().length, node: process.version, loadavg: load }, build: info.build, threads, rows, peerRows, ortRow, samples: Object.fromEntries(cases.map((c, i) => [`${c.name} ${c.shape}`, samples[i]])), tfjs, ort };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const out = new URL(quick ? './results/threads.tmp.json' : './results/threads.json', import.meta.url);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${fileURLToPath(out)}`);
}

await main();
