// Threads in Chromium: snapgrad and tfjs-wasm at 1 and 2 threads on a
// cross-origin isolated page, side by side in one run. In Node tfjs-wasm runs
// one thread whatever it is asked (bench/threads.mjs shows "ran 1 thread");
// in an isolated page it loads its threaded build, so this is where the two
// meet at equal thread counts (tfjs's own cap of half the reported cores is
// lifted by reporting 2 cores per thread asked, through the DevTools protocol). Every (contender, threads) is a fresh page
// (tfjs fixes its thread count when its backend starts); the order alternates
// over rounds and each cell is the median of the rounds' medians. Each page
// reports the threads it ran (snapgrad's info().threads, tfjs's
// getThreadsCount()), and a row that did not run what it was asked says so.
//
//   node bench/threads-browser.mjs [--rounds 3]
// Writes bench/results/threads-browser.json.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { serve } from '../examples/browser/serve.mjs';
import { formatTable, median } from './harness.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const ROUNDS = Number(args.includes('--rounds') ? args[args.indexOf('--rounds') + 1] : 3);
const THREADS = [1, 2];
const SHAPES = [[128, 1024, 784], [256, 1024, 1024], [512, 512, 512]];
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
if (!existsSync(CHROMIUM)) throw new Error(`bench/threads-browser.mjs: Chromium not found at ${CHROMIUM}; install it (apt-get install -y chromium) or set CHROMIUM_PATH`);

// Times fn in the page: warm up by time (the optimizing tier compiles in the background), then the median.
const TIMER = `
function time(fn) {
  const warm = performance.now();
  for (let i = 0; i < 3 || performance.now() - warm < 300; i++) fn();
  const samples = [];
  const start = performance.now();
  while (samples.length < 7 || performance.now() - start < 800) { const t0 = performance.now(); fn(); samples.push(performance.now() - t0); }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}
function floats(n, seed) { let s = seed >>> 0; return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) / 8388608 - 1); }
const SHAPES = ${JSON.stringify(SHAPES)};
const threads = Number(new URLSearchParams(location.search).get('threads'));`;

const SNAPGRAD_PAGE = `<!doctype html><meta charset="utf-8"><body data-state="running"><script type="module">
import * as sg from '/dist/snapgrad.browser.js';
${TIMER}
const info = await sg.init({ threads });
const ms = {};
for (const [M, N, K] of SHAPES) {
  const a = sg.keep(sg.tensor(floats(M * K, 1), [M, K])), b = sg.keep(sg.tensor(floats(K * N, 2), [K, N]));
  ms[M + 'x' + N + 'x' + K] = time(() => sg.tidy(() => { sg.matmul(a, b); }));
}
globalThis.result = { ran: info.threads, build: info.build, ms };
document.body.dataset.state = 'done';
</script></body>`;

const TFJS_PAGE = `<!doctype html><meta charset="utf-8"><body data-state="running"><script type="module">
import '/threads-browser/tfjs.js';
${TIMER}
const { tf, setThreadsCount, setWasmPaths, getThreadsCount } = globalThis.tfjs;
setWasmPaths('/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
setThreadsCount(threads);
await tf.setBackend('wasm');
await tf.ready();
const ms = {};
for (const [M, N, K] of SHAPES) {
  const a = tf.tensor(floats(M * K, 1), [M, K]), b = tf.tensor(floats(K * N, 2), [K, N]);
  ms[M + 'x' + N + 'x' + K] = time(() => tf.matMul(a, b).dispose());
}
globalThis.result = { ran: getThreadsCount(), build: 'tfjs-backend-wasm', ms };
document.body.dataset.state = 'done';
</script></body>`;

const dir = mkdtempSync(join(os.tmpdir(), 'snapgrad-threads-browser-'));
const entry = join(dir, 'entry.mjs');
writeFileSync(entry, `import * as tf from '@tensorflow/tfjs-core';\nimport { setThreadsCount, setWasmPaths, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';\nglobalThis.tfjs = { tf, setThreadsCount, setWasmPaths, getThreadsCount };\n`);
await esbuild.build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', target: 'es2020', outfile: join(dir, 'tfjs.js'), nodePaths: [join(ROOT, 'node_modules')], logLevel: 'error' });
writeFileSync(join(dir, 'snapgrad.html'), SNAPGRAD_PAGE);
writeFileSync(join(dir, 'tfjs.html'), TFJS_PAGE);
const server = await serve({ root: ROOT, mounts: { '/threads-browser/': dir } });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
const version = browser.version();

async function runPage(who, threads) {
  const page = await browser.newPage();
  // tfjs-wasm caps XNNPACK's pool at half of navigator.hardwareConcurrency (on 2 cores it runs 1 thread
  // whatever setThreadsCount asks); reporting 2 cores per thread asked lets it run the count asked.
  if (who === 'tfjs') await (await page.context().newCDPSession(page)).send('Emulation.setHardwareConcurrencyOverride', { hardwareConcurrency: 2 * threads });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(`${server.url}/threads-browser/${who}.html?threads=${threads}`);
    await page.waitForSelector('body[data-state="done"]', { state: 'attached', timeout: 300_000 }).catch(() => {
      throw new Error(`${who} at ${threads} thread(s) did not finish: ${errors.join('; ') || 'no page error'}`);
    });
    const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
    if (!isolated) throw new Error('the page is not cross-origin isolated; threads cannot run');
    return await page.evaluate(() => globalThis.result);
  } finally {
    await page.close();
  }
}

const load = os.loadavg();
const samples = {};
const ran = {};
try {
  for (let r = 0; r < ROUNDS; r++) {
    const order = [];
    for (const t of THREADS) for (const who of ['snapgrad', 'tfjs']) order.push([who, t]);
    for (const [who, t] of r % 2 === 0 ? order : order.reverse()) {
      const res = await runPage(who, t);
      (ran[who] ??= {})[t] = res.ran;
      for (const [shape, ms] of Object.entries(res.ms)) ((samples[who] ??= {})[`${t} ${shape}`] ??= []).push(ms);
    }
  }
} finally {
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}

const gflops = (shape, ms) => { const [M, N, K] = shape.split('x').map(Number); return (2 * M * N * K) / (ms * 1e6); };
const rows = SHAPES.map(([M, N, K]) => {
  const shape = `${M}x${N}x${K}`;
  const row = { kernel: 'gemm_f32', shape };
  for (const t of THREADS) {
    const ours = gflops(shape, median(samples.snapgrad[`${t} ${shape}`]));
    const peer = gflops(shape, median(samples.tfjs[`${t} ${shape}`]));
    const note = (who) => (ran[who][t] === t ? '' : ` (ran ${ran[who][t]})`);
    row[`snapgrad ${t}T GFLOP/s`] = ours.toFixed(1) + note('snapgrad');
    row[`tfjs-wasm ${t}T GFLOP/s`] = peer.toFixed(1) + note('tfjs');
    row[`ratio ${t}T`] = `${(ours / peer).toFixed(2)}x`;
  }
  for (const who of ['snapgrad', 'tfjs']) row[`${who} 2T vs 1T`] = `${(median(samples[who][`1 ${shape}`]) / median(samples[who][`2 ${shape}`])).toFixed(2)}x`;
  return row;
});
const cpu = os.cpus()[0]?.model;
console.log(`\n## f32 GEMM in Chromium ${version}, snapgrad vs tfjs-wasm at 1 and 2 threads (cross-origin isolated page; ${cpu}, ${os.cpus().length} cores, load average ${load.map((l) => l.toFixed(2)).join(' ')}; ${ROUNDS} rounds; threads run: snapgrad ${JSON.stringify(ran.snapgrad)}, tfjs ${JSON.stringify(ran.tfjs)})\n`);
console.log(formatTable(rows, Object.keys(rows[0])));
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const out = new URL('./results/threads-browser.json', import.meta.url);
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), machine: { cpu, cores: os.cpus().length, loadavg: load }, chromium: version, threads: { snapgrad: ran.snapgrad, tfjs: ran.tfjs }, rows, samples }, null, 2) + '\n');
console.log(`wrote ${fileURLToPath(out)}`);
