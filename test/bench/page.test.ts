// The benchmark page (bench/page/) in headless Chromium: served statically
// from the repository root, it runs the kernel suite, draws its charts and
// publishes what it drew as JSON in <pre id="results">. Every table row and
// chart series names its thread count; served with COOP/COEP and ?threads=2
// the live suite runs on the threads build with two threads.
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

/** A static file server for the repository root on 127.0.0.1 (any free port), sending `headers` with every file. */
function serveRoot(headers: Record<string, string> = {}): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    let file = join(ROOT, path);
    if (!file.startsWith(ROOT)) { res.writeHead(403).end(); return; }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', ...headers });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

type Series = { name: string; threads: number | '?'; values: (number | null)[] };
type Chart = { title: string; series: Series[] };

/** The label the page gives a thread count. */
const threadsLabel = (n: number | '?') => (n === '?' ? 'threads ?' : `${n} thread${n === 1 ? '' : 's'}`);

/** Every rendered table as { header, rows } of cell texts. */
async function tables(page: import('playwright-core').Page) {
  return page.$$eval('table', (ts) => ts.map((t) => {
    const [head, ...body] = [...t.querySelectorAll('tr')].map((tr) => [...tr.children].map((c) => c.textContent ?? ''));
    return { header: head, rows: body };
  }));
}

/** Every table has a threads column with a count in each row; every chart series names its count. */
function expectThreadsEverywhere(shown: { header: string[]; rows: string[][] }[], charts: Chart[]) {
  expect(shown.length).toBeGreaterThanOrEqual(2);
  for (const t of shown) {
    const col = t.header.indexOf('threads');
    expect(col, t.header.join(' | ')).toBeGreaterThanOrEqual(0);
    // a count, or per column "name: count" when the columns ran at different counts
    for (const row of t.rows) expect(row[col], row.join(' | ')).toMatch(/^(\d+|\?)$|^([^:,]+: (\d+|\?))(, [^:,]+: (\d+|\?))+$/);
  }
  for (const c of charts) {
    for (const s of c.series) {
      expect(s.threads === '?' || (Number.isInteger(s.threads) && s.threads >= 1), `${c.title} / ${s.name}: ${s.threads}`).toBe(true);
      expect(s.name.endsWith(`, ${threadsLabel(s.threads)}`), `${c.title} / ${s.name}`).toBe(true);
    }
  }
}

/**
 * bench/results/threads.json as bench/threads.mjs writes it (rows, peerRows, ortRow, threads), with made-up
 * numbers: tfjs-wasm reported 1 thread when asked for 2 (as in Node), onnxruntime-web ran both counts.
 */
const THREADS_RUN = {
  date: '2026-12-02T10:00:00.000Z', machine: { cpu: 'test', cores: 2, node: 'v20', loadavg: [0, 0, 0] }, build: 'simd128-threads',
  threads: { snapgrad: [1, 2], tfjs: { 1: 1, 2: 1 }, ort: { 1: 1, 2: 2 } },
  rows: [
    { kernel: 'gemm_f32', shape: '128x1024x784', unit: 'GFLOP/s', '1 thread ms': '8.000', '2 threads ms': '4.400', '1 thread rate': '25.7', '2 threads rate': '46.7', 'speedup 2 vs 1': '1.82x', 'ceiling (2 independent)': '1.95x' },
    { kernel: 'BNN training step', shape: '784-1024-1024-10, batch 128', unit: 'steps/s', '1 thread ms': '30.000', '2 threads ms': '18.000', '1 thread rate': '33.3', '2 threads rate': '55.6', 'speedup 2 vs 1': '1.67x', 'ceiling (2 independent)': '1.87x' },
  ],
  peerRows: [{ kernel: 'gemm_f32 vs tfjs-wasm', shape: '128x1024x784', 'snapgrad 1T GFLOP/s': '25.7', 'tfjs-wasm 1T GFLOP/s': '24.0', 'ratio 1T': '1.07x',
    'snapgrad 2T GFLOP/s': '46.7', 'tfjs-wasm 2T GFLOP/s': 'n/a (ran 1 thread)', 'ratio 2T': 'n/a' }],
  ortRow: { kernel: 'gemm_s8 vs onnxruntime-web MatMulInteger', shape: '128x1024x784', 'snapgrad 1T GOP/s': '60.0', 'ort 1T GOP/s': '57.0', 'ratio 1T': '1.05x',
    'snapgrad 2T GOP/s': '110.0', 'ort 2T GOP/s': '100.0', 'ratio 2T': '1.10x' },
};

/** Series of the page's charts whose title starts with `prefix`, as [name, threads, values]. */
const seriesOf = (charts: Chart[], prefix: string) => charts.filter((c) => c.title.startsWith(prefix)).map((c) => c.series.map((s) => [s.name, s.threads, s.values]));

async function openPage(profile: string, url: string, threadsRun: object) {
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 900 },
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // threads.json is not committed yet: serve the page the writer's shape.
  await page.route('**/bench/results/threads.json', (route) => route.fulfill({ contentType: 'application/json', body: JSON.stringify(threadsRun) }));
  await page.goto(url);
  await page.waitForSelector('#results[data-state="done"], #results[data-state="error"]', { timeout: 60_000 });
  const results = JSON.parse(await page.textContent('#results') ?? '{}');
  return { context, page, errors, results };
}

describe.skipIf(!hasChromium)('benchmark page in headless Chromium', () => {
  let server: Server;
  let isolated: Server;
  let profile: string;
  beforeAll(async () => {
    server = await serveRoot();
    isolated = await serveRoot({ 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
    profile = mkdtempSync(join(tmpdir(), 'snapgrad-bench-page-'));
  });
  afterAll(() => {
    server?.close();
    isolated?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test('runs the kernel suite, draws charts with numbers and takes a screenshot', async () => {
    const { port } = server.address() as AddressInfo;
    // A threads.json from before the writer recorded counts: its unchecked 2-thread column shows "?".
    const { threads: _, ...legacy } = THREADS_RUN;
    const { context, page, errors, results } = await openPage(profile, `http://127.0.0.1:${port}/bench/page/`, legacy);
    try {
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

      // Not cross-origin isolated, no ?threads: the live suite ran on one thread and says so.
      expect(results.crossOriginIsolated).toBe(false);
      expect(results.threads).toBe(1);
      expect(results.live.every((r: { threads: number }) => r.threads === 1)).toBe(true);
      expect(await page.textContent('#live-threads')).toContain(`snapgrad ran ${results.build} with 1 thread`);
      const shown = await tables(page);
      expectThreadsEverywhere(shown, results.charts);
      const liveTable = shown[0];
      expect(liveTable.rows).toHaveLength(results.live.length);
      for (const row of liveTable.rows) expect(row[liveTable.header.indexOf('threads')]).toBe('1');
      // The committed files: kernels/training/inference/cross-runtime predate the threads build (1 by
      // provenance), the binary-CNN files record 1, relaxed.json records 1 and 2 per row: none is unknown.
      const committed = results.charts.filter((c: Chart) => !c.title.startsWith('snapgrad at') && !c.title.startsWith('snapgrad vs'));
      const series = committed.flatMap((c: Chart) => c.series);
      expect(series.filter((s: Series) => s.name.startsWith('snapgrad')).length).toBeGreaterThan(0);
      for (const s of series) expect(typeof s.threads, s.name).toBe('number');
      expect(seriesOf(results.charts, 'Relaxed vs plain build, 1 thread').flat().map(([, t]) => t)).toEqual([1, 1]);
      expect(seriesOf(results.charts, 'Relaxed vs plain build, 2 threads').flat().map(([, t]) => t)).toEqual([2, 2]);
      for (const c of committed.filter((c: Chart) => !c.title.startsWith('Relaxed'))) for (const s of c.series) expect(s.threads, `${c.title} / ${s.name}`).toBe(1);
      const relaxedTable = shown.find((t) => t.header.includes('relaxed GOP/s'))!;
      expect(relaxedTable.rows.map((r) => r[relaxedTable.header.indexOf('threads')])).toEqual(results.saved.relaxed ? expect.arrayContaining(['1', '2']) : []);
      // The legacy threads.json: 1 where provable, "?" for the 2-thread column, no peer bars (their counts unknown).
      expect(seriesOf(results.charts, 'snapgrad at 1 and 2 threads (Node): GFLOP/s')).toEqual([[['snapgrad, 1 thread', 1, [25.7]], ['snapgrad, threads ?', '?', [46.7]]]]);
      expect(seriesOf(results.charts, 'snapgrad vs tfjs-wasm').flat().map(([name]) => name)).toEqual(['snapgrad, 1 thread', 'snapgrad, threads ?']);
      const longTable = shown.find((t) => t.header.includes('vs 1 thread'))!;
      expect(longTable.rows.map((r) => r[longTable.header.indexOf('threads')])).toEqual(['1', '?', '1', '?']);
    } finally {
      await context.close();
    }
  });

  test('cross-origin isolated with ?threads=2: the live suite runs the threads build on two threads and says so', async () => {
    const { port } = isolated.address() as AddressInfo;
    const { context, page, errors, results } = await openPage(profile, `http://127.0.0.1:${port}/bench/page/?threads=2`, THREADS_RUN);
    try {
      expect(errors).toEqual([]);
      expect(results.state).toBe('done');
      expect(results.crossOriginIsolated).toBe(true);
      expect(results.requestedThreads).toBe(2);
      expect(results.threads).toBe(2);
      expect(results.build).toMatch(/threads/);
      for (const r of results.live) {
        expect(r.threads, r.key).toBe(2);
        expect(Number.isFinite(r.value) && r.value > 0, `${r.key}: ${r.value}`).toBe(true);
      }
      expect(await page.textContent('#live-threads')).toContain(`snapgrad ran ${results.build} with 2 threads`);
      const shown = await tables(page);
      expectThreadsEverywhere(shown, results.charts);
      const liveTable = shown[0];
      for (const row of liveTable.rows) expect(row[liveTable.header.indexOf('threads')]).toBe('2');
      // The cross-runtime table mixes this browser's 2 threads with the saved single-thread runs: per column.
      const cross = shown[1];
      for (const row of cross.rows) expect(row[cross.header.indexOf('threads')]).toMatch(/^this browser: 2, Node \(saved\): 1/);
      const live = results.charts.filter((c: Chart) => c.series[0].name.startsWith('this browser'));
      expect(live.length).toBeGreaterThan(0);
      for (const c of live) expect(c.series[0].threads).toBe(2);
      // threads.json with its record: every row in long form holds one count; a peer's bars appear only at
      // the counts it reported running (tfjs-wasm ran 1 thread when asked for 2).
      expect(seriesOf(results.charts, 'snapgrad at 1 and 2 threads (Node): GFLOP/s')).toEqual([[['snapgrad, 1 thread', 1, [25.7]], ['snapgrad, 2 threads', 2, [46.7]]]]);
      expect(seriesOf(results.charts, 'snapgrad at 1 and 2 threads (Node): steps/s')).toEqual([[['snapgrad, 1 thread', 1, [33.3]], ['snapgrad, 2 threads', 2, [55.6]]]]);
      expect(seriesOf(results.charts, 'snapgrad vs tfjs-wasm')).toEqual([[['snapgrad, 1 thread', 1, [25.7]], ['tfjs-wasm, 1 thread', 1, [24]], ['snapgrad, 2 threads', 2, [46.7]]]]);
      expect(seriesOf(results.charts, 'snapgrad vs ort').flat().map(([name]) => name)).toEqual(['snapgrad, 1 thread', 'ort, 1 thread', 'snapgrad, 2 threads', 'ort, 2 threads']);
      const longTable = shown.find((t) => t.header.includes('vs 1 thread'))!;
      expect(longTable.rows.map((r) => [r[longTable.header.indexOf('kernel')], r[longTable.header.indexOf('threads')], r[longTable.header.indexOf('vs 1 thread')]]))
        .toEqual([['gemm_f32', '1', '1.00x'], ['gemm_f32', '2', '1.82x'], ['BNN training step', '1', '1.00x'], ['BNN training step', '2', '1.67x']]);
      // The machine's ceiling from the same run sits on the 2-thread rows.
      expect(longTable.rows.map((r) => r[longTable.header.indexOf('ceiling (2 independent)')])).toEqual(['', '1.95x', '', '1.87x']);
      const tfjsTable = shown.find((t) => t.header.includes('tfjs-wasm ran threads'))!;
      expect(tfjsTable.rows.map((r) => [r[tfjsTable.header.indexOf('threads')], r[tfjsTable.header.indexOf('tfjs-wasm ran threads')]])).toEqual([['1', '1'], ['2', '1']]);
    } finally {
      await context.close();
    }
  });
});
