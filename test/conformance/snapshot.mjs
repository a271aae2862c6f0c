// Node's conformance hashes against the committed snapshot (hashes.simd.json):
// a refactor that changes any output bit shows up here, case by case.
//
//   node test/conformance/snapshot.mjs --check    (after npm run build)
//   node test/conformance/snapshot.mjs --write    (only for an intended change; say why in the commit)
import { readFileSync, writeFileSync } from 'node:fs';
import { runConformanceThreads } from './threads.mjs';

const file = new URL('./hashes.simd.json', import.meta.url);

/** Names of the cases whose hash differs from the snapshot (missing or extra ones included). */
export function snapshotDiff(hashes) {
  const expected = JSON.parse(readFileSync(file, 'utf8'));
  const names = [...new Set([...Object.keys(expected), ...Object.keys(hashes)])];
  return names.filter((n) => expected[n] !== hashes[n]).map((n) => `${n}: now ${hashes[n] ?? '(missing)'}, snapshot ${expected[n] ?? '(missing)'}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sg = await import(new URL('../../dist/snapgrad.js', import.meta.url).href);
  await sg.init();
  const { threads, threadDiffs, hashes } = await runConformanceThreads(sg);
  if (process.argv.includes('--write')) {
    writeFileSync(file, JSON.stringify(hashes, null, 1) + '\n');
    console.log(`wrote ${Object.keys(hashes).length} hashes`);
  } else {
    const diff = snapshotDiff(hashes);
    for (const [t, names] of Object.entries(threadDiffs)) for (const n of names) diff.push(`${n}: differs at ${t} threads from 1 thread`);
    for (const line of diff) console.log(line);
    console.log(`${Object.keys(hashes).length} cases at ${threads.join(', ')} threads, ${diff.length} differ from the snapshot`);
    process.exitCode = diff.length === 0 ? 0 : 1;
  }
}
