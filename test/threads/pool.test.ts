// The pool's life cycle and the fallbacks: setThreads, the default thread
// count, what info() says, the single-thread build where threads cannot run
// (simulated in child processes), and processes that exit with workers alive.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import * as sg from '../../src/index.js';
import { rt } from '../../src/runtime/context.js';
import { defaultThreads } from '../../src/runtime/loader.js';
import { PARALLEL_MIN_COST } from '../../src/runtime/parallel.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DIST = join(ROOT, 'dist/snapgrad.js');

/** Runs `body` (an async function body with `sg` = dist/snapgrad.js) in a fresh Node process; returns its JSON output. */
function inChild(body: string, prelude = '', command: string[] = [process.execPath]): any {
  const script = `${prelude}\nconst sg = await import(${JSON.stringify(DIST)});\nconsole.log(JSON.stringify(await (async () => { ${body} })()));`;
  const out = execFileSync(command[0], [...command.slice(1), '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

beforeAll(async () => {
  await sg.init();
});

describe('setThreads', () => {
  test('grows and shrinks the pool at run time; info() follows and says why', async () => {
    let info = await sg.setThreads(3);
    expect(info.threads).toBe(3);
    expect(info.threadsReason).toBe('setThreads(3)');
    expect(sg.info().threads).toBe(3);
    info = await sg.setThreads(1);
    expect(info.threads).toBe(1);
    const jobs = rt().pool!.stats.jobs;
    sg.tidy(() => {
      sg.matmul(sg.ones([300, 300]), sg.ones([300, 300]));
    });
    expect(rt().pool!.stats.jobs, 'one thread runs no jobs').toBe(jobs);
    info = await sg.setThreads(2);
    expect(info.threads).toBe(2);
    sg.tidy(() => {
      const c = sg.matmul(sg.ones([300, 300]), sg.ones([300, 300]));
      expect(c.dataSync().every((v) => v === 300)).toBe(true);
    });
    expect(rt().pool!.stats.jobs).toBe(jobs + 1);
  });

  test('rejects bad thread counts and options with errors naming them', async () => {
    await expect(sg.setThreads(0)).rejects.toThrow(/setThreads: threads must be .*>= 1/);
    await expect(sg.setThreads(2.5)).rejects.toThrow(/setThreads: threads must be an integer/);
    await expect(sg.setThreads('2' as any)).rejects.toThrow(/setThreads: threads/);
    await expect(sg.setThreads(65)).rejects.toThrow(/setThreads: threads must be .*<= 64/);
    await expect(sg.setThreads(2, { minParallelCost: -1 })).rejects.toThrow(/setThreads: options.minParallelCost/);
    expect(sg.info().threads).toBe(2);
  });

  test('a parallel call leaves the allocator as it found it (workers never allocate; workspaces are freed)', async () => {
    await sg.setThreads(4, { minParallelCost: 0 });
    const before = sg.memoryStats();
    sg.tidy(() => {
      const a = sg.randn([130, 257], { seed: 1 }), b = sg.randn([257, 67], { seed: 2 });
      sg.matmul(a, b);
      sg.vqNearest(a, sg.randn([33, 257], { seed: 3 }));
    });
    expect(sg.memoryStats()).toEqual(before);
    await sg.setThreads(2, { minParallelCost: PARALLEL_MIN_COST });
  });
});

describe('init({ threads }) and the default', () => {
  test('the default is the available cores, at most 8', () => {
    expect([0, 1, 2, 3, 8, 9, 64].map(defaultThreads)).toEqual([1, 1, 2, 3, 8, 8, 8]);
  });

  test('on one core (taskset) the default is one thread, and npm-test-sized work runs', () => {
    const r = inChild(`const info = await sg.init(); const c = sg.matmul(sg.ones([64, 64]), sg.ones([64, 64])).dataSync(); return { info, ok: c.every((v) => v === 64) };`, '', ['taskset', '-c', '0', process.execPath]);
    expect(r.info.threads).toBe(1);
    expect(r.info.threadsReason).toBe('one core is available (the default uses up to 8)');
    expect(r.ok).toBe(true);
  });

  test('init({ threads: 3 }) starts 3 threads; init({ threads: 0 }) is an error', () => {
    const r = inChild(`return await sg.init({ threads: 3 });`);
    expect(r).toMatchObject({ build: 'simd128-threads', threads: 3, threadsReason: 'init({ threads: 3 })' });
    const e = inChild(`try { await sg.init({ threads: 0 }); return 'no error'; } catch (err) { return err.message; }`);
    expect(e).toMatch(/^init: options.threads must be .*>= 1/);
    const w = inChild(`try { await sg.init({ workerUrl: 5 }); return 'no error'; } catch (err) { return err.message; }`);
    expect(w).toBe('init: options.workerUrl must be a URL or a string (the location of dist/snapgrad.worker.js), got 5');
  });

  test('a process with running workers exits by itself (workers are unref\'d)', () => {
    const start = performance.now();
    const r = inChild(`const info = await sg.init({ threads: 4 }); await sg.setThreads(4, { minParallelCost: 0 }); sg.matmul(sg.ones([64, 64]), sg.ones([64, 64])); return info.threads;`);
    expect(r).toBe(4);
    expect(performance.now() - start).toBeLessThan(30_000);
  });
});

describe('fallback to one thread, without error', () => {
  test('no SharedArrayBuffer: the single-thread build, and info() says why', () => {
    const r = inChild(`const info = await sg.init(); const s = await sg.setThreads(4); return { info, s, sum: sg.sum(sg.ones([1000])).item() };`, 'delete globalThis.SharedArrayBuffer;');
    expect(r.info).toMatchObject({ build: 'simd128', threads: 1, threadsReason: 'this runtime has no SharedArrayBuffer: the single-thread build runs' });
    expect(r.s.threads).toBe(1);
    expect(r.sum).toBe(1000);
  });

  test('a page that is not cross-origin isolated (simulated): the single-thread build', () => {
    const r = inChild(`const fs = await import('node:fs'); return await sg.init({ wasm: fs.readFileSync(${JSON.stringify(join(ROOT, 'dist/snapgrad.simd.wasm'))}) });`, "globalThis.window = globalThis; globalThis.crossOriginIsolated = false; globalThis.location = { href: 'file://' + process.cwd() + '/' };");
    expect(r.runtime).toBe('browser');
    expect(r.build).toBe('simd128');
    expect(r.threads).toBe(1);
    expect(r.threadsReason).toMatch(/not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
  });

  test('a worker script that is missing: the threads build on one thread, and the reason', () => {
    const r = inChild(`const info = await sg.init({ workerUrl: 'file:///nonexistent/snapgrad.worker.js' }); return { info, v: sg.matmul(sg.ones([2, 3]), sg.ones([3, 2])).dataSync()[0] };`);
    expect(r.info.threads).toBe(1);
    expect(r.info.threadsReason).toMatch(/^the worker pool could not start \(the worker script was not found \(file:\/\/\/nonexistent\/snapgrad.worker.js\)/);
    expect(r.v).toBe(3);
  });

  test('init({ wasm }) with the single-thread build runs it on one thread and says how to get threads', () => {
    const r = inChild(`const fs = await import('node:fs'); return await sg.init({ wasm: fs.readFileSync(${JSON.stringify(join(ROOT, 'dist/snapgrad.simd.wasm'))}) });`);
    expect(r).toMatchObject({ build: 'simd128', threads: 1 });
    expect(r.threadsReason).toMatch(/single-thread build.*snapgrad.simd-threads.wasm/);
  });
});

describe('the tile grid', () => {
  test('up to 4 tiles per thread, a multiple of the threads, shaped by the output: one row takes all its tiles in columns', async () => {
    const { chooseGrid } = await import('../../src/runtime/parallel.js');
    const tiles = (R: number, ra: number, C: number, ca: number, t: number) => {
      const g = chooseGrid(R, ra, C, ca, t);
      return g === null ? null : { step: g, count: Math.ceil(R / g[0]) * Math.ceil(C / g[1]) };
    };
    expect(tiles(1, 4, 1024, 8, 2)).toEqual({ step: [4, 128], count: 8 });
    expect(tiles(128, 4, 1024, 8, 2)).toEqual({ step: [128, 128], count: 8 });
    expect(tiles(4096, 64, 1, 1, 2)).toEqual({ step: [512, 1], count: 8 });
    expect(tiles(3, 4, 5, 8, 4)).toBeNull();
    expect(tiles(100000, 1, 16, 8, 4)!.count).toBe(16);
    // Square-ish outputs split both ways, into a multiple of the threads (9 tiles on 2 threads left one a tile more).
    expect(tiles(784, 4, 1024, 8, 2)).toEqual({ step: [392, 256], count: 8 });
    expect(tiles(1024, 4, 1024, 8, 3)!.count).toBe(12);
    // Too few aligned pieces for a multiple: as many tiles as there are.
    expect(tiles(8, 4, 8, 8, 4)).toEqual({ step: [4, 8], count: 2 });
  });
});
