// Command-line runner for Node and Deno: imports snapgrad by the specifier
// given as the first argument (default: the bare package name, resolved
// through node_modules and the package's exports map), calls init() with no
// options, runs the suite (at 1-4 threads with the threads build: threads.mjs)
// and prints { runtime, build, threads, threadDiffs, hashes } as JSON.
//
//   node run.mjs [specifier]        deno run --allow-read run.mjs [specifier]
import { runConformanceThreads } from './threads.mjs';

const args = globalThis.Deno ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const sg = await import(args[0] ?? 'snapgrad');
const info = await sg.init();
const { threads, threadDiffs, hashes } = await runConformanceThreads(sg);
console.log(JSON.stringify({ runtime: info.runtime, build: info.build, threads, threadDiffs, hashes }));
