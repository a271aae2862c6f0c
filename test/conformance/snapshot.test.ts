// The conformance suite in this process (from src/) gives the committed
// snapshot's hashes bit for bit: refactors must not change any output.
import { expect, test } from 'vitest';
import { useSnapgrad } from '../support/setup.js';
import { runConformance } from './cases.mjs';
import { snapshotDiff } from './snapshot.mjs';

const sg = useSnapgrad();

test('Node conformance hashes equal the committed snapshot', () => {
  const hashes = runConformance(sg);
  expect(snapshotDiff(hashes)).toEqual([]);
});
