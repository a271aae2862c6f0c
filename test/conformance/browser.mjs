// The suite in a browser page: the result (or the error) is left on
// globalThis.conformance for the test driving the browser to read.
import * as sg from 'snapgrad';
import { runConformanceThreads } from './threads.mjs';

try {
  const info = await sg.init();
  const { threads, threadDiffs, hashes } = await runConformanceThreads(sg);
  globalThis.conformance = { runtime: info.runtime, build: info.build, threadsReason: info.threadsReason, crossOriginIsolated: globalThis.crossOriginIsolated, threads, threadDiffs, hashes };
} catch (err) {
  globalThis.conformance = { error: String((err && err.stack) || err) };
}
document.body.dataset.state = 'done';
