// Relaxed-SIMD build vs plain SIMD build, in Deno and in Chromium, side by
// side in one run: int8 GEMM (relaxed dot), u8 x 1-bit GEMM (relaxed swizzle)
// and the XNOR binary GEMM (the same code in both builds: the control), at
// 128x1024x784 and 512^3, at 1 and 2 threads. Every configuration is a fresh
// process or page; configurations alternate within each round so that the
// machine's drift hits both builds alike, and each cell is the best of the
// rounds' medians. Where a runtime's probe rejects the relaxed build, it is
// forced with init({ build: 'relaxed', unsafeRelaxed: true }): its swizzle
// kernels are correct and timed, its int8 rows are marked as not runnable
// correctly, with the probe's reason.
//
//   node bench/relaxed.mjs [--rounds 3] [--threads 1,2] [--runtimes deno,chromium]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from '../examples/browser/serve.mjs';
import { formatTable } from './harness.mjs';

const ROOT = new URL('../', import.meta.url).pathname;
const args = process.argv.slice(2);
const flag = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const ROUNDS = Number(flag('rounds', 3));
const THREADS = flag('threads', '1,2').split(',').map(Number);
const RUNTIMES = flag('runtimes', 'deno,chromium').split(',');
const BUILDS = ['simd', 'relaxed'];
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DIST_URL = new URL('dist/snapgrad.js', `file://${ROOT}`).href;

function cpuModel() {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const field = (name) => info.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm'))?.[1] ?? '?';
  const flags = field('flags').split(' ');
  return `${field('model name')} (family ${field('cpu family')} model ${field('model')}; avx_vnni ${flags.includes('avx_vnni') ? 'yes' : 'no'}, avx512_vnni ${flags.includes('avx512_vnni') ? 'yes' : 'no'})`;
}

function denoRun(build, threads) {
  const out = execFileSync(join(ROOT, 'node_modules/.bin/deno'), ['run', '--allow-read', '--no-remote', '--no-check', join(ROOT, 'bench/relaxed-cases.mjs'), DIST_URL, build, String(threads)],
    { env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' }, encoding: 'utf8', timeout: 300_000 });
  return JSON.parse(out.trim().split('\n').pop());
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>relaxed bench</title><body data-state="running"><script type="module">
import * as sg from '/dist/snapgrad.browser.js';
import { benchBuild } from '/bench/relaxed-cases.mjs';
const p = new URLSearchParams(location.search);
globalThis.result = await benchBuild(sg, p.get('build'), Number(p.get('threads')));
document.body.dataset.state = 'done';
</script></body>`;

let browser = null, server = null, pageDir = null;
async function chromiumRun(build, threads) {
  if (browser === null) {
    pageDir = mkdtempSync(join(os.tmpdir(), 'snapgrad-relaxed-bench-'));
    writeFileSync(join(pageDir, 'index.html'), PAGE);
    server = await serve({ root: ROOT, mounts: { '/relaxed-bench/': pageDir } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  }
  const page = await browser.newPage();
  try {
    await page.goto(`${server.url}/relaxed-bench/index.html?build=${build}&threads=${threads}`);
    await page.waitForSelector('body[data-state="done"]', { state: 'attached', timeout: 300_000 });
    return await page.evaluate(() => globalThis.result);
  } finally {
    await page.close();
  }
}

const run = (runtime, build, threads) => (runtime === 'deno' ? denoRun(build, threads) : chromiumRun(build, threads));

const loadBefore = os.loadavg();
const probes = {};
for (const runtime of RUNTIMES) {
  if (runtime === 'chromium' && !existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}; set CHROMIUM_PATH or pass --runtimes deno`);
  const r = await run(runtime, 'probe', 1);
  if (r.error) throw new Error(`${runtime}: init() failed: ${r.error}`);
  probes[runtime] = { build: r.info.build, relaxed: r.info.relaxed, reason: r.info.relaxedReason };
}

// best[key] = { ms, cpuMs } over rounds; key = runtime|threads|build|kernel|shape
const best = {};
const errors = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const threads of THREADS) {
    for (const runtime of RUNTIMES) {
      for (const build of round % 2 ? [...BUILDS].reverse() : BUILDS) {
        const r = await run(runtime, build, threads);
        if (r.error) {
          errors.push(`${runtime} ${build} ${threads}t: ${r.error}`);
          continue;
        }
        for (const row of r.rows) {
          const key = [runtime, threads, build, row.kernel, row.shape].join('|');
          const prev = best[key];
          best[key] = {
            ops: row.ops,
            ms: Math.min(prev?.ms ?? Infinity, row.ms),
            cpuMs: row.cpuMs === null ? null : Math.min(prev?.cpuMs ?? Infinity, row.cpuMs),
          };
        }
      }
    }
  }
  console.error(`round ${round + 1}/${ROUNDS} done, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
}
await browser?.close();
await server?.close();
if (pageDir) rmSync(pageDir, { recursive: true, force: true });
const loadAfter = os.loadavg();

const rate = (c, which) => (c && c[which] !== null ? c.ops / (c[which] * 1e6) : null);
const fmt = (x) => (x === null ? '' : x.toFixed(1));
const rows = [];
for (const runtime of RUNTIMES) {
  for (const threads of THREADS) {
    for (const kernel of ['int8Matmul', 'uint8BinaryMatmul', 'binaryMatmul']) {
      for (const shape of ['128x1024x784', '512x512x512']) {
        const plain = best[[runtime, threads, 'simd', kernel, shape].join('|')];
        const relaxed = best[[runtime, threads, 'relaxed', kernel, shape].join('|')];
        if (!plain || !relaxed) continue;
        const wrong = kernel === 'int8Matmul' && !probes[runtime].relaxed;
        const p = rate(plain, 'ms'), q = rate(relaxed, 'ms');
        const pc = threads === 1 ? rate(plain, 'cpuMs') : null, qc = threads === 1 ? rate(relaxed, 'cpuMs') : null;
        rows.push({
          runtime, threads, kernel, 'M x K x N': shape,
          'plain GOP/s': fmt(p),
          'relaxed GOP/s': wrong ? `(${fmt(q)})` : fmt(q),
          'relaxed / plain': wrong ? 'not runnable correctly here' : `${(q / p).toFixed(2)}x`,
          'per CPU-second': pc !== null && qc !== null ? `${fmt(pc)} vs ${fmt(qc)}${wrong ? '' : ` = ${(qc / pc).toFixed(2)}x`}` : '',
        });
      }
    }
  }
}

console.log(`CPU: ${cpuModel()}, ${os.cpus().length} cores; load average ${loadBefore.map((x) => x.toFixed(1)).join(' ')} before, ${loadAfter.map((x) => x.toFixed(1)).join(' ')} after; ${ROUNDS} rounds, best of the rounds' medians.`);
for (const [runtime, p] of Object.entries(probes)) console.log(`${runtime}: init() chooses ${p.build}: ${p.reason}`);
console.log(formatTable(rows, ['runtime', 'threads', 'kernel', 'M x K x N', 'plain GOP/s', 'relaxed GOP/s', 'relaxed / plain', 'per CPU-second']));
for (const e of errors) console.log(`error: ${e}`);
writeFileSync(join(ROOT, 'bench/results/relaxed.json'), JSON.stringify({ date: new Date().toISOString(), cpu: cpuModel(), loadBefore, loadAfter, rounds: ROUNDS, probes, rows, errors }, null, 1) + '\n');
