// Kernel benchmark: every suite in bench/suites/ measures snapgrad and its
// peers in this same process. Prints one table per suite and writes
// bench/results/kernels.json.  Usage: npm run bench [-- --suite f32,binary] [--quick]
import { writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import * as sg from '../dist/snapgrad.js';
import { formatTable } from './harness.mjs';

const SUITES = ['f32', 'binary', 'int8', 'u8b1', 'quant', 'vq'];

const args = process.argv.slice(2);
const pick = args.includes('--suite') ? args[args.indexOf('--suite') + 1].split(',') : SUITES;
const quick = args.includes('--quick');

const info = await sg.init({ threads: 1 }); // the single-thread tables; bench/threads.mjs measures threads
// Every peer is pinned to one thread (tfjs setThreadsCount, ort numThreads; plain JS has one), so a row's count is snapgrad's.
const threads = { snapgrad: info.threads, tfjs: 1, ort: 1, 'plain JS': 1 };
const results = { date: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version }, threads, suites: {} };
for (const name of pick) {
  const suite = await import(`./suites/${name}.mjs`);
  console.log(`\n## ${suite.title}\n`);
  const rows = await suite.run({ sg, quick });
  console.log(formatTable(rows, suite.columns));
  results.suites[name] = rows.map((r) => ({ ...r, threads: info.threads }));
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
// Only a full run replaces the saved results the page and BENCHMARKS.md use.
const partial = quick || pick.length !== SUITES.length;
const out = new URL(partial ? './results/kernels.tmp.json' : './results/kernels.json', import.meta.url);
writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
console.log(`\nwrote ${out.pathname}`);
