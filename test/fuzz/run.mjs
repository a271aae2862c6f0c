#!/usr/bin/env node
// Long fuzz runs: npm run fuzz -- --runs N --seed S [--shrink] [--collect] [--files tensor,ops]
// --collect keeps going after failing cases and lists every distinct failure per property.
// Runs the same properties as `npm test` (test/fuzz/*.fuzz.test.ts) through
// vitest with about N cases in total (N / number of properties per property,
// scaled by each property's weight) and seed S, then prints the seed, the
// case count, the time and every failing property with its counterexample.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const runs = Number(opt('runs', 2000));
const seed = Number(opt('seed', Date.now() % 2 ** 31));
const filter = opt('files', '');
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${opt('runs')}`);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${opt('seed')}`);

const files = readdirSync(here).filter((f) => f.endsWith('.fuzz.test.ts') && (!filter || filter.split(',').some((p) => f.startsWith(p))));
let props = 0;
for (const f of files) props += [...readFileSync(join(here, f), "utf8").matchAll(/^\s+prop\(\s*\[/gm)].length;
const perProp = Math.max(1, Math.ceil(runs / Math.max(props, 1)));
const report = join(tmpdir(), `snapgrad-fuzz-${process.pid}.jsonl`);
if (existsSync(report)) rmSync(report);

console.log(`fuzz: seed ${seed}, ${props} properties in ${files.length} files, ~${perProp} runs each (target ${runs} cases)`);
const started = Date.now();
const res = spawnSync('npx', ['vitest', 'run', ...files.map((f) => join('test/fuzz', f)), '--reporter=dot'], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, FUZZ_RUNS: String(perProp), FUZZ_SEED: String(seed), FUZZ_REPORT: report, FUZZ_SHRINK: args.includes('--shrink') ? '1' : '0', FUZZ_COLLECT: args.includes('--collect') ? '1' : '0', FUZZ_TIMEOUT_MS: String(24 * 3600 * 1000 / Math.max(1, perProp / 50)) },
});
const seconds = ((Date.now() - started) / 1000).toFixed(1);
const rows = existsSync(report) ? readFileSync(report, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
rmSync(report, { force: true });
const cases = rows.reduce((n, r) => n + r.runs, 0);
const failed = rows.filter((r) => r.failed);
console.log(`\nfuzz: seed ${seed}: ${cases} cases in ${rows.length} properties, ${seconds} s, ${failed.length} failing ${failed.length === 1 ? 'property' : 'properties'}`);
for (const f of failed) {
  if (f.distinct) {
    console.log(`\n✗ ${f.name}\n  ${f.distinct.length} distinct failures in ${f.runs} runs (seed ${f.seed}):`);
    for (const d of f.distinct) console.log(`  - (${d.count}x) ${d.message.split('\n')[0]}\n    e.g. ${d.counterexample}`);
    continue;
  }
  console.log(`\n✗ ${f.name}\n  after ${f.runs} runs (replay: --seed ${f.seed}, fast-check path "${f.path}")\n  counterexample: ${f.counterexample}\n  ${f.error.split('\n').join('\n  ')}`);
}
process.exit(failed.length > 0 || res.status !== 0 ? 1 : 0);
