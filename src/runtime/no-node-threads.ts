// Stands in for node:os and node:worker_threads in dist/snapgrad.browser.js
// (the build for browsers and Workers): web bundlers cannot resolve node:
// modules, and the pool uses them only when the runtime is Node or Deno.
export function availableParallelism(): number {
  return 1;
}

export class Worker {
  constructor() {
    throw new Error("this is the browser/Workers build of snapgrad: its pool uses Web Workers, not Node's worker_threads");
  }
}
