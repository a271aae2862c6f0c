// The thread count as a dimension of the conformance suite: with the threads
// build the suite runs at 1, 2, 3 and 4 threads with every kernel call split
// into tiles (minParallelCost 0), and every thread count must give the bits of
// the first. Shared by the runners (Node, Deno, Chromium).
import { runConformance } from './cases.mjs';

export const THREAD_COUNTS = [1, 2, 3, 4];

/**
 * { threads, hashes, threadDiffs }: the hashes at the first thread count, and
 * for each other count the names of the cases whose hash differs from them.
 * The single-thread build runs the suite once (threads [1]).
 */
export async function runConformanceThreads(sg) {
  if (sg.info().build !== 'simd128-threads') return { threads: [sg.info().threads], hashes: runConformance(sg), threadDiffs: {} };
  let first = null;
  const threadDiffs = {};
  for (const t of THREAD_COUNTS) {
    await sg.setThreads(t, { minParallelCost: 0 });
    const hashes = runConformance(sg);
    if (first === null) first = hashes;
    else threadDiffs[t] = Object.keys(first).filter((name) => hashes[name] !== first[name]);
  }
  return { threads: THREAD_COUNTS, hashes: first, threadDiffs };
}
