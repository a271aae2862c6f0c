// The kernel suite of the benchmark page (bench/page/suite.mjs) in every
// runtime available here — Node (this process), Deno (node_modules/.bin/deno)
// Chromium (/usr/bin/chromium, the page itself) and workerd (Miniflare,
// timed from the host) — merged into one
// cross-runtime table: bench/results/cross-runtime.json.
//   node bench/run-all.mjs
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as sg from '../dist/snapgrad.js';
import { formatTable } from './harness.mjs';
import { runSuite } from './page/suite.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DENO = join(ROOT, 'node_modules/.bin/deno');
const CHROMIUM = '/usr/bin/chromium';
const SUITE_URL = new URL('./page/suite.mjs', import.meta.url).href;
const DIST_URL = new URL('../dist/snapgrad.js', import.meta.url).href;

const toValues = (rows) => Object.fromEntries(rows.map((r) => [r.key, r.value]));

async function inNode() {
  await sg.init({ threads: 1 });
  return runSuite(sg);
}

function inDeno() {
  if (!existsSync(DENO)) return { skipped: `${DENO} is missing (npm install deno)` };
  const code = `import * as sg from ${JSON.stringify(DIST_URL)}; import { runSuite } from ${JSON.stringify(SUITE_URL)};
    await sg.init({ threads: 1 }); console.log(JSON.stringify(runSuite(sg)));`;
  const out = execFileSync(DENO, ['eval', '--ext=js', code], { encoding: 'utf8', env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } });
  return JSON.parse(out.trim().split('\n').pop());
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

async function inChromium() {
  if (!existsSync(CHROMIUM)) return { skipped: `${CHROMIUM} is missing (apt-get install -y chromium)` };
  const { chromium } = await import('playwright-core');
  const server = createServer((req, res) => {
    let file = join(ROOT, normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    if (!file.startsWith(ROOT)) return res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const profile = mkdtempSync(join(os.tmpdir(), 'snapgrad-run-all-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/bench/page/`);
    await page.waitForSelector('#results[data-state="done"], #results[data-state="error"]', { timeout: 120_000 });
    const results = JSON.parse(await page.textContent('#results'));
    if (results.state !== 'done') throw new Error(`the benchmark page failed in Chromium: ${results.error}`);
    return results.live;
  } finally {
    await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * workerd (Miniflare, cf: false). Inside a Worker the clocks stand still while
 * a request computes (a Spectre mitigation), so the host times requests that
 * run a case `reps` times and subtracts the median cost of an empty request.
 */
async function inWorkerd() {
  let Miniflare, esbuild;
  try {
    ({ Miniflare } = await import('miniflare'));
    esbuild = await import('esbuild');
  } catch (err) {
    return { skipped: `miniflare or esbuild is not installed (${err.message})` };
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'snapgrad-bench-workerd-'));
  const keepWasm = {
    name: 'wasm-module',
    setup(build) {
      build.onResolve({ filter: /^snapgrad(\/wasm)?$/ }, (args) => {
        if (args.path === 'snapgrad') return { path: join(ROOT, 'dist/snapgrad.browser.js') };
        copyFileSync(join(ROOT, 'dist/snapgrad.simd.wasm'), join(dir, 'snapgrad.simd.wasm'));
        return { path: './snapgrad.simd.wasm', external: true };
      });
    },
  };
  await esbuild.build({
    entryPoints: [join(ROOT, 'bench/workerd/worker.mjs')], outfile: join(dir, 'worker.js'),
    bundle: true, format: 'esm', platform: 'neutral', plugins: [keepWasm], logLevel: 'silent',
  });
  const mf = new Miniflare({
    scriptPath: join(dir, 'worker.js'), modulesRoot: dir, modules: true,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2026-04-01', cf: false,
  });
  try {
    await mf.ready;
    const timeRequest = async (path) => {
      const t0 = performance.now();
      const res = await mf.dispatchFetch(`http://worker${path}`);
      await res.text();
      if (!res.ok) throw new Error(`workerd ${path}: HTTP ${res.status}`);
      return performance.now() - t0;
    };
    const cases = await (await mf.dispatchFetch('http://worker/cases')).json();
    const medianOf = async (n, f) => {
      const xs = [];
      for (let k = 0; k < n; k++) xs.push(await f());
      return xs.sort((a, b) => a - b)[xs.length >> 1];
    };
    const empty = await medianOf(15, () => timeRequest('/run?case=0&reps=0'));
    const values = [];
    for (let i = 0; i < cases.length; i++) {
      // Warm-up (tier-up to optimized wasm), then enough reps per request for ~300 ms.
      for (let k = 0; k < 3; k++) await timeRequest(`/run?case=${i}&reps=3`);
      const one = Math.max((await medianOf(3, () => timeRequest(`/run?case=${i}&reps=4`))) - empty, 0.01) / 4;
      const reps = Math.max(3, Math.ceil(300 / one));
      const ms = ((await medianOf(5, () => timeRequest(`/run?case=${i}&reps=${reps}`))) - empty) / reps;
      values.push({ key: cases[i].key, ms });
    }
    return { values, emptyRequestMs: empty };
  } finally {
    await mf.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Node runs first and again last; each case keeps its faster run, so a burst of
// load on this shared machine during one Node run does not flatter the others.
const firstNode = await inNode();
const worker = await inWorkerd();
const deno = inDeno();
const chromium = await inChromium();
const lastNode = runSuite(sg);
const node = firstNode.map((r, i) => (lastNode[i].value > r.value ? lastNode[i] : r));
const nodeCases = Object.fromEntries(node.map((r) => [r.key, r]));
const others = {
  deno,
  chromium,
  // value(ms) of each case, from the node rows: value = node.value * node.ms / ms
  workerd: worker.skipped ? worker : worker.values.map(({ key, ms }) => ({ key, value: (nodeCases[key].value * nodeCases[key].ms) / ms })),
};
const runtimes = { node: toValues(node) };
const skipped = {};
for (const [name, result] of Object.entries(others)) {
  if (result.skipped) skipped[name] = result.skipped;
  else runtimes[name] = toValues(result);
}
const rows = node.map((r) => {
  const row = { kernel: `${r.kernel} ${r.shape}`, unit: r.unit };
  for (const [name, values] of Object.entries(runtimes)) {
    const v = values[r.key];
    row[name] = v >= 100 ? v.toFixed(0) : v.toFixed(1);
    if (name !== 'node') row[`${name} / node`] = `${((100 * v) / r.value).toFixed(0)}%`;
  }
  return row;
});
console.log(`\n## Kernel suite across runtimes (single thread; ${Object.keys(runtimes).join(', ')})\n`);
if (!worker.skipped) console.log(`workerd is timed from the host: request time minus an empty request (${worker.emptyRequestMs.toFixed(2)} ms), divided by the runs per request.\n`);
console.log(formatTable(rows, Object.keys(rows[0])));
for (const [name, why] of Object.entries(skipped)) console.log(`${name}: skipped (${why})`);
// Each runner's rows carry the pool size they ran with; workerd loads the single-thread build (no workers there).
const threads = { node: node[0].threads, ...Object.fromEntries(Object.entries(others).filter(([, r]) => !r.skipped).map(([name, r]) => [name, name === 'workerd' ? 1 : r[0].threads])) };
const result = { date: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadavg: os.loadavg() }, threads, runtimes, skipped, rows };
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const out = new URL('./results/cross-runtime.json', import.meta.url);
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(`wrote ${out.pathname}`);
