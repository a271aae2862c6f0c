// A ceiling worker of bench/threads.mjs: its own single-thread snapgrad
// instance (own memory, no pool) with the same cases. Asked { index, ms }, it
// runs that case back to back for ms milliseconds and answers the rate in ops
// per millisecond. Two of these at once show what two independent threads
// reach on this machine, with nothing shared and no synchronization.
import { parentPort } from 'node:worker_threads';
import * as sg from '../dist/snapgrad.js';
import { threadCases } from './threads-cases.mjs';

await sg.init({ threads: 1 });
const cases = threadCases(sg);
for (const c of cases) for (let i = 0; i < 3; i++) c.run();
parentPort.on('message', ({ index, ms }) => {
  const c = cases[index];
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    c.run();
    n++;
  }
  parentPort.postMessage((c.ops * n) / (performance.now() - t0));
});
parentPort.postMessage('ready');
