// The kernel suite of the benchmark page (bench/page/suite.mjs) in every
// runtime available here — Node (this process), Deno (node_modules/.bin/deno)
// and Chromium (/usr/bin/chromium, the page itself) — merged into one
// cross-runtime table: bench/results/cross-runtime.json.
//   node bench/run-all.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  await sg.init();
  return runSuite(sg);
}

function inDeno() {
  if (!existsSync(DENO)) return { skipped: `${DENO} is missing (npm install deno)` };
  const code = `import * as sg from ${JSON.stringify(DIST_URL)}; import { runSuite } from ${JSON.stringify(SUITE_URL)};
    await sg.init(); console.log(JSON.stringify(runSuite(sg)));`;
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

const node = await inNode();
const others = { deno: inDeno(), chromium: await inChromium() };
const runtimes = { node: toValues(node) };
const skipped = {
  // workerd freezes performance.now()/Date.now() while a request computes
  // (a Spectre mitigation), so in-Worker timings read 0 ms and cannot be measured.
  workerd: 'not run: Workers clocks (Date.now, performance.now) advance only on I/O (documented Spectre mitigation), so a kernel cannot be timed from inside workerd',
};
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
console.log(formatTable(rows, Object.keys(rows[0])));
for (const [name, why] of Object.entries(skipped)) console.log(`${name}: skipped (${why})`);
const result = { date: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadavg: os.loadavg() }, runtimes, skipped, rows };
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const out = new URL('./results/cross-runtime.json', import.meta.url);
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(`wrote ${out.pathname}`);
