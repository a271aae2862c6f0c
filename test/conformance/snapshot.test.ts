// The conformance suite in this process (from src/) gives the committed
// snapshot's hashes bit for bit: refactors must not change any output.
import { expect, test } from 'vitest';
import { useSnapgrad } from '../support/setup.js';
import { runConformance } from './cases.mjs';
import { snapshotDiff, snapshotHashes } from './snapshot.mjs';
import { runConformanceThreads } from './threads.mjs';

const sg = useSnapgrad();

test('Node conformance hashes equal the committed snapshot of the build that runs', () => {
  const hashes = runConformance(sg);
  expect(snapshotDiff(hashes, sg.info().relaxed ? 'relaxed' : 'simd')).toEqual([]);
});

test('the relaxed build promises the plain build\'s bits: its snapshot lists the same cases and hashes', () => {
  expect(snapshotHashes('relaxed')).toEqual(snapshotHashes('simd'));
});

test('the same hashes at 1, 2, 3 and 4 threads, every kernel call split', async () => {
  const { threads, hashes, threadDiffs } = await runConformanceThreads(sg);
  expect(threads).toEqual([1, 2, 3, 4]);
  expect(threadDiffs).toEqual({ 2: [], 3: [], 4: [] });
  expect(snapshotDiff(hashes, sg.info().relaxed ? 'relaxed' : 'simd')).toEqual([]);
  await sg.setThreads(2, { minParallelCost: 2 ** 20 });
});
