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

await sg.init({ threads: 1 }); // the single-thread tables; bench/threads.mjs measures threads
const results = { date: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version }, suites: {} };
for (const name of pick) {
  const suite = await import(`./suites/${name}.mjs`);
  console.log(`\n## ${suite.title}\n`);
  const rows = await suite.run({ sg, quick });
  console.log(formatTable(rows, suite.columns));
  results.suites[name] = rows;
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
// Only a full run replaces the saved results the page and BENCHMARKS.md use.
const partial = quick || pick.length !== SUITES.length;
const out = new URL(partial ? './results/kernels.tmp.json' : './results/kernels.json', import.meta.url);
writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
console.log(`\nwrote ${out.pathname}`);
