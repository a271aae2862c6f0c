// The suite in a browser page: the result (or the error) is left on
// globalThis.conformance for the test driving the browser to read.
import * as sg from 'snapgrad';
import { runConformance } from './cases.mjs';

try {
  const info = await sg.init();
  globalThis.conformance = { runtime: info.runtime, crossOriginIsolated: globalThis.crossOriginIsolated, hashes: runConformance(sg) };
} catch (err) {
  globalThis.conformance = { error: String((err && err.stack) || err) };
}
document.body.dataset.state = 'done';
