// Command-line runner for Node and Deno: imports snapgrad by the specifier
// given as the first argument (default: the bare package name, resolved
// through node_modules and the package's exports map), calls init() with no
// options, runs the suite and prints { runtime, hashes } as JSON.
//
//   node run.mjs [specifier]        deno run --allow-read run.mjs [specifier]
import { runConformance } from './cases.mjs';

const args = globalThis.Deno ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const sg = await import(args[0] ?? 'snapgrad');
const info = await sg.init();
console.log(JSON.stringify({ runtime: info.runtime, hashes: runConformance(sg) }));
