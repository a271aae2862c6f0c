// The benchmark page (bench/page/) in headless Chromium: served statically
// from the repository root, it runs the kernel suite, draws its charts and
// publishes what it drew as JSON in <pre id="results">.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript',
  '.json': 'application/json', '.wasm': 'application/wasm', '.css': 'text/css',
};
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`test/bench/page.test.ts: skipped, ${CHROMIUM} is missing (apt-get install -y chromium)`);

/** A static file server for the repository root on 127.0.0.1 (any free port). */
function serveRoot(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    let file = join(ROOT, path);
    if (!file.startsWith(ROOT)) { res.writeHead(403).end(); return; }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

describe.skipIf(!hasChromium)('benchmark page in headless Chromium', () => {
  let server: Server;
  let profile: string;
  beforeAll(async () => {
    server = await serveRoot();
    profile = mkdtempSync(join(tmpdir(), 'snapgrad-bench-page-'));
  });
  afterAll(() => {
    server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test('runs the kernel suite, draws charts with numbers and takes a screenshot', async () => {
    const { chromium } = await import('playwright-core');
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1100, height: 900 },
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      const { port } = server.address() as AddressInfo;
      await page.goto(`http://127.0.0.1:${port}/bench/page/`);
      await page.waitForSelector('#results[data-state="done"], #results[data-state="error"]', { timeout: 60_000 });
      const results = JSON.parse(await page.textContent('#results') ?? '{}');
      const screenshot = join(tmpdir(), 'snapgrad-bench-page.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`benchmark page screenshot: ${screenshot}`);
      expect(errors).toEqual([]);
      expect(results.error).toBeUndefined();
      expect(results.state).toBe('done');

      // Every live kernel row has a positive finite rate and time.
      expect(results.live.map((r: { kernel: string }) => r.kernel)).toEqual(expect.arrayContaining(['f32 matmul', 'binaryMatmul', 'int8Matmul', 'vqNearest']));
      expect(results.live.filter((r: { kernel: string }) => r.kernel === 'f32 matmul')).toHaveLength(8);
      for (const r of results.live) {
        expect(Number.isFinite(r.value) && r.value > 0, `${r.key}: ${r.value}`).toBe(true);
        expect(r.ms).toBeGreaterThan(0);
      }
      // Every chart has at least one positive number, and its canvas is drawn on.
      expect(results.charts.length).toBeGreaterThanOrEqual(4);
      for (const c of results.charts) {
        const values = c.series.flatMap((s: { values: (number | null)[] }) => s.values).filter((v: number | null) => v !== null);
        expect(values.length, c.title).toBeGreaterThan(0);
        for (const v of values) expect(v, c.title).toBeGreaterThanOrEqual(0);
        expect(Math.max(...values), c.title).toBeGreaterThan(0);
      }
      const inked = await page.$$eval('canvas', (canvases) => canvases.map((cv) => {
        const { data } = (cv as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (cv as HTMLCanvasElement).width, (cv as HTMLCanvasElement).height);
        let colored = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] !== data[i + 1] || data[i + 1] !== data[i + 2]) colored++;
        return colored;
      }));
      expect(inked).toHaveLength(results.charts.length);
      // Coloured (non-grey) pixels are bars: each chart has a visible amount of them.
      for (const n of inked) expect(n).toBeGreaterThan(200);
      expect(await page.$$eval('table tr', (trs) => trs.length)).toBeGreaterThan(results.live.length);
    } finally {
      await context.close();
    }
  });
});
