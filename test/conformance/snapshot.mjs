// Node's conformance hashes against the committed snapshot (hashes.simd.json):
// a refactor that changes any output bit shows up here, case by case.
// Bit-identity is promised per build: hashes.<build>.json, build 'simd' or
// 'relaxed' (info().relaxed; threads do not change bits). The relaxed build
// changes only exact integer kernels, so its file equals the plain one; it is
// checked in the runtimes whose relaxed probe passes (Node 20 runs the plain build).
//
//   node test/conformance/snapshot.mjs --check    (after npm run build)
//   node test/conformance/snapshot.mjs --write    (only for an intended change; say why in the commit)
import { readFileSync, writeFileSync } from 'node:fs';
import { runConformanceThreads } from './threads.mjs';

const snapshotFile = (build) => new URL(`./hashes.${build}.json`, import.meta.url);

/** The committed hashes of a build ('simd' or 'relaxed'). */
export function snapshotHashes(build = 'simd') {
  return JSON.parse(readFileSync(snapshotFile(build), 'utf8'));
}

/** Names of the cases whose hash differs from the build's snapshot (missing or extra ones included). */
export function snapshotDiff(hashes, build = 'simd') {
  const expected = snapshotHashes(build);
  const names = [...new Set([...Object.keys(expected), ...Object.keys(hashes)])];
  return names.filter((n) => expected[n] !== hashes[n]).map((n) => `${n}: now ${hashes[n] ?? '(missing)'}, snapshot ${expected[n] ?? '(missing)'}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sg = await import(new URL('../../dist/snapgrad.js', import.meta.url).href);
  const build = (await sg.init()).relaxed ? 'relaxed' : 'simd';
  const { threads, threadDiffs, hashes } = await runConformanceThreads(sg);
  if (process.argv.includes('--write')) {
    writeFileSync(snapshotFile(build), JSON.stringify(hashes, null, 1) + '\n');
    console.log(`wrote ${Object.keys(hashes).length} hashes`);
  } else {
    const diff = snapshotDiff(hashes, build);
    for (const [t, names] of Object.entries(threadDiffs)) for (const n of names) diff.push(`${n}: differs at ${t} threads from 1 thread`);
    for (const line of diff) console.log(line);
    console.log(`${Object.keys(hashes).length} cases at ${threads.join(', ')} threads, ${diff.length} differ from the ${build} snapshot`);
    process.exitCode = diff.length === 0 ? 0 : 1;
  }
}
