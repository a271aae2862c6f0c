// The conformance suite in this process (from src/) gives the committed
// snapshot's hashes bit for bit: refactors must not change any output.
import { expect, test } from 'vitest';
import { useSnapgrad } from '../support/setup.js';
import { runConformance } from './cases.mjs';
import { snapshotDiff } from './snapshot.mjs';
import { runConformanceThreads } from './threads.mjs';

const sg = useSnapgrad();

test('Node conformance hashes equal the committed snapshot', () => {
  const hashes = runConformance(sg);
  expect(snapshotDiff(hashes)).toEqual([]);
});

test('the same hashes at 1, 2, 3 and 4 threads, every kernel call split', async () => {
  const { threads, hashes, threadDiffs } = await runConformanceThreads(sg);
  expect(threads).toEqual([1, 2, 3, 4]);
  expect(threadDiffs).toEqual({ 2: [], 3: [], 4: [] });
  expect(snapshotDiff(hashes)).toEqual([]);
  await sg.setThreads(2, { minParallelCost: 2 ** 20 });
});
