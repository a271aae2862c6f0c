// Deno (the npm-installed binary): the conformance suite imported three ways —
// the bare specifier through a node_modules install, an npm: specifier, and a
// plain path import of dist/snapgrad.js — each with init() and no options.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DIST_URL, expectSameHashes, nodeHashes, packedProject, parseSuiteOutput, ROOT, since, type PackedProject } from './support.js';

const DENO = join(ROOT, 'node_modules/.bin/deno');
// No update check, no colors in messages; nothing here may reach the network.
const env = { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };

function deno(args: string[], cwd: string): string {
  return execFileSync(DENO, args, { cwd, env, encoding: 'utf8', timeout: 60_000 });
}

describe('Deno', () => {
  let project: PackedProject;
  beforeAll(() => {
    project = packedProject('deno');
  });
  afterAll(() => project?.cleanup());

  test.each([
    ["bare 'snapgrad' through node_modules", 'snapgrad'],
    ["'npm:snapgrad' from node_modules", 'npm:snapgrad'],
    ['a plain path import of dist/snapgrad.js', DIST_URL],
  ])("the conformance suite via %s gives Node's hashes", async (_how, specifier) => {
    const start = performance.now();
    const result = parseSuiteOutput(deno(['run', '--allow-read', '--no-remote', 'run.mjs', specifier], project.dir));
    expect(result.runtime).toBe('deno');
    // Deno runs the threads build: the suite ran at 1-4 threads (expectSameHashes checks they agree).
    expect(result.threads).toEqual([1, 2, 3, 4]);
    expectSameHashes('deno', result, await nodeHashes());
    console.log(`deno: conformance via ${specifier.startsWith('file:') ? 'path import' : specifier} in ${since(start)} ms`);
  });

  test('without --allow-read, init() says that Deno needs it to read the wasm', () => {
    const r = spawnSync(DENO, ['run', '--no-prompt', '--no-remote', 'run.mjs'], { cwd: project.dir, env, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('init: could not load snapgrad.simd.wasm next to the module (Deno needs --allow-read to read it)');
  });

  test('examples/deno classifies MNIST test images with the frozen model', () => {
    const start = performance.now();
    const out = deno(['run', '--allow-read', '--no-remote', 'examples/deno/main.ts', '500'], ROOT);
    expect(out).toMatch(/^snapgrad simd128-threads on deno$/m);
    const m = out.match(/(\d+)\/500 test images correct/);
    expect(m, out).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(450);
    expect(out).toMatch(/the first test image is a 7; the model says \d/);
    console.log(`deno: examples/deno in ${since(start)} ms`);
  });
});
