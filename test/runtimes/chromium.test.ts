// Chromium (Debian's package, driven by playwright-core; headless, pages
// served from 127.0.0.1 by the example's static server): the conformance
// suite as plain ESM, bundled by esbuild and by Vite, and the live-training
// example page. Skipped, with a message, only when no Chromium is installed.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { serve } from '../../examples/browser/serve.mjs';
import { snapshotDiff } from '../conformance/snapshot.mjs';
import { expectSameHashes, nodeHashes, packedProject, ROOT, since, type PackedProject, type SuiteResult } from './support.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.log(`Chromium not found at ${CHROMIUM}: skipping the browser tests (install it with apt-get install -y chromium, or set CHROMIUM_PATH)`);
}

// Playwright gives every launch a fresh temporary profile (--user-data-dir);
// these flags keep Chromium from reaching the network.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const BUNDLE_PAGE = '<!doctype html><meta charset="utf-8"><title>snapgrad conformance (bundled)</title><body data-state="running"><script type="module" src="./app.js"></script></body>';

describe.skipIf(!hasChromium)('Chromium', () => {
  let browser: Browser;
  let server: { url: string; close(): Promise<void> };
  /** The same files without COOP/COEP: a page that is not cross-origin isolated. */
  let plainServer: { url: string; close(): Promise<void> };
  let project: PackedProject;
  let startMs = 0;

  beforeAll(async () => {
    const start = performance.now();
    project = packedProject('chromium');
    // esbuild, as an app would bundle it: 'snapgrad' resolves to the browser build
    // through the exports map; the wasm is copied next to the bundle.
    const esbuildDir = join(project.dir, 'esbuild-app');
    await esbuild.build({ entryPoints: [join(project.dir, 'browser.mjs')], outfile: join(esbuildDir, 'app.js'), bundle: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent' });
    for (const f of ['snapgrad.simd.wasm', 'snapgrad.simd-threads.wasm', 'snapgrad.relaxed.wasm', 'snapgrad.relaxed-threads.wasm', 'snapgrad.worker.js']) copyFileSync(join(project.dir, 'node_modules/snapgrad/dist', f), join(esbuildDir, f));
    writeFileSync(join(esbuildDir, 'index.html'), BUNDLE_PAGE);
    server = await serve({ root: ROOT, mounts: { '/esbuild-app/': esbuildDir, '/vite-app/': join(project.dir, 'vite-app') } });
    plainServer = await serve({ root: ROOT, isolated: false });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    startMs = since(start);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await plainServer?.close();
    project?.cleanup();
  });

  /** Runs the suite page at `path`; also returns the URLs the wasm was served from (HTTP 200). */
  async function runSuite(path: string, at = server): Promise<SuiteResult & { build: string; threadsReason: string; crossOriginIsolated: boolean; relaxed: boolean; wasmUrls: string[] }> {
    const page = await browser.newPage();
    const errors: string[] = [];
    const wasmUrls: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('response', (res) => {
      if (res.url().endsWith('.wasm') && res.status() === 200) wasmUrls.push(res.url().slice(at.url.length));
    });
    try {
      await page.goto(at.url + path);
      await page.waitForSelector('body[data-state="done"]', { state: 'attached', timeout: 45_000 });
      const result = await page.evaluate(() => (globalThis as any).conformance);
      expect(result.error, result.error).toBeUndefined();
      expect(errors).toEqual([]);
      return { ...result, wasmUrls };
    } finally {
      await page.close();
    }
  }

  test("plain ESM from a static server (import map to dist/snapgrad.js, init() with no options) gives Node's hashes", async () => {
    const start = performance.now();
    const result = await runSuite('/test/conformance/browser.html');
    expect(result.runtime).toBe('browser');
    // init() fetches the relaxed build for its probe first, and the plain one only where the probe fails.
    expect(result.wasmUrls).toEqual(result.relaxed ? ['/dist/snapgrad.relaxed-threads.wasm'] : ['/dist/snapgrad.relaxed-threads.wasm', '/dist/snapgrad.simd-threads.wasm']);
    expect(snapshotDiff(result.hashes, result.relaxed ? 'relaxed' : 'simd')).toEqual([]);
    expect(result.crossOriginIsolated).toBe(true);
    // The isolated page runs the threads build; the suite ran at 1-4 threads (expectSameHashes checks they agree).
    expect(result.threads).toEqual([1, 2, 3, 4]);
    expectSameHashes('chromium', result, await nodeHashes());
    console.log(`chromium: launch + server ${startMs} ms, plain-ESM conformance page ${since(start)} ms`);
  });

  test("a page that is not cross-origin isolated runs the single-thread build with no error and Node's hashes", async () => {
    const result = await runSuite('/test/conformance/browser.html', plainServer);
    expect(result.crossOriginIsolated).toBe(false);
    expect(result.build).toBe(result.relaxed ? 'relaxed-simd128' : 'simd128');
    expect(result.threads).toEqual([1]);
    expect(result.threadsReason).toMatch(/not cross-origin isolated/);
    expect(result.wasmUrls).toEqual(result.relaxed ? ['/dist/snapgrad.relaxed.wasm'] : ['/dist/snapgrad.relaxed.wasm', '/dist/snapgrad.simd.wasm']);
    expect(snapshotDiff(result.hashes, result.relaxed ? 'relaxed' : 'simd')).toEqual([]);
    expectSameHashes('chromium (not isolated)', result, await nodeHashes());
  });

  test("an esbuild bundle (the exports map's browser build, wasm next to the bundle) gives Node's hashes", async () => {
    const bundle = readFileSync(join(project.dir, 'esbuild-app/app.js'), 'utf8');
    expect(bundle).toContain('node_modules/snapgrad/dist/snapgrad.browser.js');
    expect(bundle).not.toContain('node:');
    const result = await runSuite('/esbuild-app/');
    expect(result.runtime).toBe('browser');
    expect(result.wasmUrls).toEqual(result.relaxed ? ['/esbuild-app/snapgrad.relaxed-threads.wasm'] : ['/esbuild-app/snapgrad.relaxed-threads.wasm', '/esbuild-app/snapgrad.simd-threads.wasm']);
    expect(result.threads).toEqual([1, 2, 3, 4]);
    expectSameHashes('chromium (esbuild)', result, await nodeHashes());
  });

  test("a Vite build (the wasm emitted as an asset from new URL(..., import.meta.url)) gives Node's hashes", async () => {
    const start = performance.now();
    const { build } = await import('vite');
    const appRoot = join(project.dir, 'vite-src');
    mkdirSync(appRoot, { recursive: true });
    copyFileSync(join(project.dir, 'browser.mjs'), join(appRoot, 'browser.mjs'));
    copyFileSync(join(project.dir, 'cases.mjs'), join(appRoot, 'cases.mjs'));
    copyFileSync(join(project.dir, 'threads.mjs'), join(appRoot, 'threads.mjs'));
    writeFileSync(join(appRoot, 'index.html'), BUNDLE_PAGE.replace('./app.js', './browser.mjs'));
    const outDir = join(project.dir, 'vite-app');
    await build({ root: appRoot, base: './', logLevel: 'silent', configFile: false, build: { outDir, target: 'es2022', emptyOutDir: true } });
    // Vite emits every build and the worker script as assets (each named by a literal new URL(...)).
    expect(readdirSync(join(outDir, 'assets')).filter((f) => f.endsWith('.wasm'))).toHaveLength(4);
    const result = await runSuite('/vite-app/');
    expect(result.runtime).toBe('browser');
    expect(result.wasmUrls).toHaveLength(result.relaxed ? 1 : 2);
    expect(result.wasmUrls[0]).toMatch(/^\/vite-app\/assets\/snapgrad\.relaxed-threads-[\w-]+\.wasm$/);
    if (!result.relaxed) expect(result.wasmUrls[1]).toMatch(/^\/vite-app\/assets\/snapgrad\.simd-threads-[\w-]+\.wasm$/);
    expect(result.threads).toEqual([1, 2, 3, 4]);
    expectSameHashes('chromium (vite)', result, await nodeHashes());
    console.log(`chromium: vite build + conformance page ${since(start)} ms`);
  });

  test('the example page trains a BNN live on MNIST, draws the loss chart and shows the test accuracy', { timeout: 120_000 }, async () => {
    const start = performance.now();
    const page: Page = await browser.newPage({ viewport: { width: 800, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    try {
      await page.goto(`${server.url}/examples/browser/?train=3000&test=1000&epochs=2&threads=2`);
      await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { state: 'attached', timeout: 100_000 });
      const status = await page.textContent('#status');
      expect(await page.getAttribute('body', 'data-state'), status ?? '').toBe('done');
      // The page trains with the pool (asked for 2 threads, so a one-core machine runs it too).
      expect(Number(await page.getAttribute('body', 'data-threads'))).toBe(2);
      const screenshot = join(tmpdir(), 'snapgrad-browser-example.png');
      await page.screenshot({ path: screenshot, fullPage: true });

      // The chart: a white background with a loss line in the line colour (#1565c0) across the plot.
      const chart = await page.evaluate(() => {
        const canvas = document.getElementById('chart') as HTMLCanvasElement;
        const { data, width, height } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        let nonWhite = 0;
        const lineColumns = new Set<number>();
        for (let i = 0; i < data.length; i += 4) {
          if (data[i] < 250 || data[i + 1] < 250 || data[i + 2] < 250) nonWhite++;
          if (data[i + 2] > 150 && data[i] < 90 && data[i + 1] < 140) lineColumns.add((i / 4) % width);
        }
        return { nonWhite, lineColumns: lineColumns.size, width, height };
      });
      expect(chart.nonWhite).toBeGreaterThan(1000);
      expect(chart.lineColumns).toBeGreaterThan(chart.width / 2);

      const text = (await page.textContent('#accuracy')) ?? '';
      const m = text.match(/^test accuracy (\d+\.\d)% \(frozen to [\d.]+ kB of packed weights: (\d+\.\d)%\)$/);
      expect(m, text).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThan(50); // chance is 10%
      expect(m![2]).toBe(m![1]);
      expect(errors).toEqual([]);
      console.log(`chromium: example page "${text}" in ${since(start)} ms; screenshot ${screenshot}`);
    } finally {
      await page.close();
    }
  });
});
