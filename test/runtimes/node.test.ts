// Node: the conformance suite against the built bundle (the reference the
// other runtimes are compared with), the package imported by name through its
// exports map, and the Node example.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectSameHashes, nodeHashes, packedProject, parseSuiteOutput, ROOT, since, type PackedProject } from './support.js';

describe('Node', () => {
  let project: PackedProject;
  beforeAll(() => {
    project = packedProject('node');
  });
  afterAll(() => project?.cleanup());

  test('the conformance suite runs every case without error, and twice gives the same bits', async () => {
    const start = performance.now();
    const { runtime, hashes, threads, threadDiffs } = await nodeHashes();
    expect(runtime).toBe('node');
    expect(threads).toEqual([1, 2, 3, 4]);
    expect(threadDiffs).toEqual({ 2: [], 3: [], 4: [] });
    const errors = Object.entries(hashes).filter(([, h]) => !/^[0-9a-f]{8}$/.test(h));
    expect(errors).toEqual([]);
    expect(Object.keys(hashes).length).toBeGreaterThan(100);
    const again = parseSuiteOutput(execFileSync(process.execPath, [join(ROOT, 'test/conformance/run.mjs'), join(ROOT, 'dist/snapgrad.js')], { encoding: 'utf8' }));
    expectSameHashes('node (second process)', again, { runtime, hashes });
    console.log(`node: ${Object.keys(hashes).length} conformance outputs in ${since(start)} ms`);
  });

  test("import * as sg from 'snapgrad' from an npm-packed install resolves the exports map and gives Node's hashes", async () => {
    const start = performance.now();
    const out = execFileSync(process.execPath, ['run.mjs'], { cwd: project.dir, encoding: 'utf8' });
    const result = parseSuiteOutput(out);
    expect(result.runtime).toBe('node');
    expectSameHashes('node (packed)', result, await nodeHashes());
    console.log(`node: packed-package run in ${since(start)} ms`);
  });

  test('the package ships the bundles, the wasm and the types, and nothing from src/', () => {
    const files = execFileSync('find', ['.', '-type', 'f'], { cwd: join(project.dir, 'node_modules/snapgrad'), encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.slice(2));
    for (const f of ['dist/snapgrad.js', 'dist/snapgrad.browser.js', 'dist/snapgrad.simd.wasm', 'dist/snapgrad.simd-threads.wasm', 'dist/snapgrad.worker.js', 'dist/types/index.d.ts', 'dist/types/wasm.d.ts', 'package.json', 'README.md']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  });

  test('init() names a wrong options.module and says what to pass instead', () => {
    const script = `import(${JSON.stringify(join(ROOT, 'dist/snapgrad.js'))}).then((sg) => sg.init({ module: new Uint8Array(8) })).catch((e) => console.log(e.message))`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe('init: options.module must be a WebAssembly.Module, got Uint8Array; pass bytes, a URL or a Response as options.wasm instead');
  });

  test('examples/node trains, freezes and saves a model', () => {
    const start = performance.now();
    const saved = join(project.dir, 'model.safetensors');
    const out = execFileSync(process.execPath, [join(ROOT, 'examples/node/main.mjs'), '--train', '3000', '--epochs', '2', '--save', saved], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(out).toMatch(/^snapgrad simd128-threads on node$/m);
    const m = out.match(/test accuracy (\d+\.\d+)%, frozen (\d+\.\d+)%/);
    expect(m, out).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(70);
    expect(m![2]).toBe(m![1]);
    expect(out).toContain(`saved ${saved}`);
    console.log(`node: examples/node in ${since(start)} ms`);
  });
});
