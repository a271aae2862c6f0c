import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { init } from '../../src/runtime/loader.js';
import { memoryStats } from '../../src/runtime/stats.js';
import { loadIdx, loadMnist, parseIdxHeader, type Mnist } from '../../src/io/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bundled = join(root, 'examples/data/mnist');
const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

let dir = '';
let server: Server;
let baseUrl = '';

beforeAll(async () => {
  await init();
  dir = mkdtempSync(join(tmpdir(), 'snapgrad-mnist-'));
  // A local server for the http(s) path of the byte sources (no outside network).
  server = createServer((req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    try {
      const body = readFileSync(path);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as any).port}/`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function dispose(m: Mnist): void {
  for (const t of Object.values(m)) t.dispose();
}

/** An independent writer for a tiny dataset in the MNIST layout. */
function idx(shape: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

function writeTinyDataset(folder: string, opts: { nTrain: number; nTest: number; gz: boolean[]; labelsTrain?: number }): void {
  mkdirSync(folder, { recursive: true });
  const sizes = [[opts.nTrain, 4, 5], [opts.labelsTrain ?? opts.nTrain], [opts.nTest, 4, 5], [opts.nTest]];
  FILES.forEach((name, i) => {
    const shape = sizes[i];
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Uint8Array.from({ length: n }, (_, j) => (shape.length === 1 ? (j * 3 + i) % 10 : (j * 7 + i) % 256));
    const bytes = idx(shape, data);
    writeFileSync(join(folder, opts.gz[i] ? `${name}.gz` : name), opts.gz[i] ? gzipSync(bytes) : bytes);
  });
}

describe('the bundled MNIST files', () => {
  test('md5 and sizes match SOURCE.md', () => {
    const source = readFileSync(join(bundled, 'SOURCE.md'), 'utf8');
    const rows = [...source.matchAll(/^\| (\S+\.gz) \| (\d+) \| ([0-9a-f]{32}) \|/gm)];
    expect(rows.map((r) => r[1]).sort()).toEqual(FILES.map((f) => `${f}.gz`).sort());
    for (const [, file, bytes, md5] of rows) {
      const data = readFileSync(join(bundled, file));
      expect(data.length, file).toBe(Number(bytes));
      expect(createHash('md5').update(data).digest('hex'), file).toBe(md5);
    }
    // The published checksums, independently of SOURCE.md:
    const published: Record<string, string> = {
      'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      'train-labels-idx1-ubyte.gz': 'd53e105ee54ea40749a09fcbcd1e9432',
      't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
      't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c',
    };
    for (const [file, md5] of Object.entries(published)) {
      expect(createHash('md5').update(readFileSync(join(bundled, file))).digest('hex')).toBe(md5);
    }
  });

  test('IDX headers and first labels as SOURCE.md states', async () => {
    const headerOf = (f: string) => parseIdxHeader(gunzipSync(readFileSync(join(bundled, `${f}.gz`))), f);
    expect(headerOf('train-images-idx3-ubyte')).toMatchObject({ typeCode: 8, shape: [60000, 28, 28], headerBytes: 16 });
    expect(headerOf('t10k-images-idx3-ubyte')).toMatchObject({ typeCode: 8, shape: [10000, 28, 28], headerBytes: 16 });
    const train = await loadIdx(join(bundled, 'train-labels-idx1-ubyte.gz'));
    const test = await loadIdx(pathToFileURL(join(bundled, 't10k-labels-idx1-ubyte.gz')));
    expect(train.shape).toEqual([60000]);
    expect(test.shape).toEqual([10000]);
    expect(Array.from(train.dataSync().subarray(0, 8))).toEqual([5, 0, 4, 1, 9, 2, 1, 3]);
    expect(Array.from(test.dataSync().subarray(0, 8))).toEqual([7, 2, 1, 0, 4, 1, 4, 9]);
    expect(Math.max(...train.dataSync())).toBe(9);
    train.dispose();
    test.dispose();
  });

  test('loadMnist() with no folder loads the bundled copy', async () => {
    const before = memoryStats();
    const m = await loadMnist();
    expect(m.trainImages.shape).toEqual([60000, 28, 28]);
    expect(m.trainLabels.shape).toEqual([60000]);
    expect(m.testImages.shape).toEqual([10000, 28, 28]);
    expect(m.testLabels.shape).toEqual([10000]);
    for (const t of Object.values(m)) expect(t.dtype).toBe('uint8');
    expect(Array.from(m.trainLabels.dataSync().subarray(0, 8))).toEqual([5, 0, 4, 1, 9, 2, 1, 3]);
    expect(Array.from(m.testLabels.dataSync().subarray(0, 8))).toEqual([7, 2, 1, 0, 4, 1, 4, 9]);
    // Pixels are the file's bytes after the 16-byte header, first and last image.
    const raw = gunzipSync(readFileSync(join(bundled, 't10k-images-idx3-ubyte.gz')));
    const px = m.testImages.dataSync();
    expect(Buffer.from(px.subarray(0, 784)).equals(raw.subarray(16, 16 + 784))).toBe(true);
    expect(Buffer.from(px.subarray(px.length - 784)).equals(raw.subarray(raw.length - 784))).toBe(true);
    dispose(m);
    expect(memoryStats().bytesInUse).toBe(before.bytesInUse);
    expect(memoryStats().tensorsAlive).toBe(before.tensorsAlive);
  });

  test('limits and an explicit folder (path with or without a trailing slash, file: URL)', async () => {
    for (const folder of [bundled, `${bundled}/`, pathToFileURL(bundled), pathToFileURL(bundled).href.replace(/\/?$/, '/')]) {
      const m = await loadMnist(folder, { limitTrain: 100, limitTest: 8 });
      expect(m.trainImages.shape).toEqual([100, 28, 28]);
      expect(m.trainLabels.shape).toEqual([100]);
      expect(m.testImages.shape).toEqual([8, 28, 28]);
      expect(m.testLabels.toArray()).toEqual([7, 2, 1, 0, 4, 1, 4, 9]);
      dispose(m);
    }
    const none = await loadMnist(undefined, { limitTrain: 0, limitTest: 0 });
    expect(none.trainImages.shape).toEqual([0, 28, 28]);
    dispose(none);
  });
});

describe('loadMnist on other folders', () => {
  test('a folder of plain (not gzipped) files, and a mix of both', async () => {
    const plain = join(dir, 'plain');
    writeTinyDataset(plain, { nTrain: 6, nTest: 3, gz: [false, false, false, false] });
    const mixed = join(dir, 'mixed');
    writeTinyDataset(mixed, { nTrain: 6, nTest: 3, gz: [true, false, false, true] });
    for (const folder of [plain, mixed]) {
      const m = await loadMnist(folder);
      expect(m.trainImages.shape).toEqual([6, 4, 5]);
      expect(m.testImages.shape).toEqual([3, 4, 5]);
      expect(m.trainLabels.toArray()).toEqual([1, 4, 7, 0, 3, 6]);
      expect(m.testLabels.toArray()).toEqual([3, 6, 9]);
      expect(Array.from(m.trainImages.dataSync().subarray(0, 3))).toEqual([0, 7, 14]);
      dispose(m);
    }
  });

  test('over http from a local server', async () => {
    writeTinyDataset(join(dir, 'served'), { nTrain: 4, nTest: 2, gz: [true, true, false, false] });
    for (const url of [`${baseUrl}served`, `${baseUrl}served/`, new URL(`${baseUrl}served/`)]) {
      const m = await loadMnist(url, { limitTrain: 3 });
      expect(m.trainImages.shape).toEqual([3, 4, 5]);
      expect(m.testLabels.toArray()).toEqual([3, 6]);
      dispose(m);
    }
    const t = await loadIdx(`${baseUrl}served/t10k-labels-idx1-ubyte`);
    expect(t.toArray()).toEqual([3, 6]);
    t.dispose();
    await expect(loadIdx(`${baseUrl}served/nothing`)).rejects.toThrow(`loadIdx: ${baseUrl}served/nothing was not found (HTTP 404)`);
    await expect(loadMnist(`${baseUrl}absent/`)).rejects.toThrow(
      `loadMnist: neither ${baseUrl}absent/train-images-idx3-ubyte.gz nor ${baseUrl}absent/train-images-idx3-ubyte exists`);
  });

  test('mismatched counts, wrong types, missing files: clear errors and nothing leaks', async () => {
    const before = memoryStats();
    const mismatch = join(dir, 'mismatch');
    writeTinyDataset(mismatch, { nTrain: 6, nTest: 3, gz: [true, true, true, true], labelsTrain: 5 });
    await expect(loadMnist(mismatch)).rejects.toThrow(/loadMnist: .*train-images-idx3-ubyte\.gz has 6 images but .*train-labels-idx1-ubyte\.gz has 5 labels/);

    const wrongType = join(dir, 'wrongtype');
    writeTinyDataset(wrongType, { nTrain: 2, nTest: 2, gz: [false, false, false, false] });
    const labels = idx([2, 1], new Uint8Array([1, 2]));
    writeFileSync(join(wrongType, 't10k-labels-idx1-ubyte'), labels);
    await expect(loadMnist(wrongType)).rejects.toThrow(/loadMnist: .*t10k-labels-idx1-ubyte must hold uint8 labels \[N\], got uint8 \[2,1\]/);

    const truncated = join(dir, 'truncated');
    writeTinyDataset(truncated, { nTrain: 2, nTest: 2, gz: [false, false, true, false] });
    const gz = readFileSync(join(truncated, 't10k-images-idx3-ubyte.gz'));
    writeFileSync(join(truncated, 't10k-images-idx3-ubyte.gz'), gz.subarray(0, gz.length - 6));
    await expect(loadMnist(truncated)).rejects.toThrow(/loadMnist: .*t10k-images-idx3-ubyte\.gz is corrupt or truncated gzip data/);

    const partial = join(dir, 'partial');
    writeTinyDataset(partial, { nTrain: 2, nTest: 2, gz: [false, false, false, false] });
    rmSync(join(partial, 't10k-labels-idx1-ubyte'));
    await expect(loadMnist(partial)).rejects.toThrow(`loadMnist: neither ${partial}/t10k-labels-idx1-ubyte.gz nor ${partial}/t10k-labels-idx1-ubyte exists`);

    expect(memoryStats().bytesInUse).toBe(before.bytesInUse);
    expect(memoryStats().tensorsAlive).toBe(before.tensorsAlive);
  });

  test('bad arguments', async () => {
    await expect(loadMnist(5 as any)).rejects.toThrow(/loadMnist: dir must be a folder path or URL, got 5/);
    await expect(loadMnist(undefined, { limitTrain: -1 })).rejects.toThrow(/loadMnist: limitTrain must be >= 0, got -1/);
    await expect(loadMnist(undefined, { limitTest: 2.5 })).rejects.toThrow(/loadMnist: limitTest must be an integer, got 2.5/);
    await expect(loadMnist(undefined, 5 as any)).rejects.toThrow(/loadMnist: options must be an object \(or omitted\), got 5/);
  });
});

test('the bundle finds the data from dist/ (the installed layout)', async () => {
  // Bundle the way `npm run build:js` does, into a package-shaped folder. The entry
  // holds only what this test needs, so unrelated work in progress elsewhere cannot break it.
  const { build } = await import('esbuild');
  const pkg = join(dir, 'pkg');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  mkdirSync(join(pkg, 'examples/data'), { recursive: true });
  symlinkSync(bundled, join(pkg, 'examples/data/mnist'));
  copyFileSync(join(root, 'dist/snapgrad.simd.wasm'), join(pkg, 'dist/snapgrad.simd.wasm'));
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, [
    `export { init } from ${JSON.stringify(join(root, 'src/runtime/loader.ts'))};`,
    `export { memoryStats } from ${JSON.stringify(join(root, 'src/runtime/stats.ts'))};`,
    `export * as io from ${JSON.stringify(join(root, 'src/io/index.ts'))};`,
  ].join('\n'));
  await build({
    entryPoints: [entry], nodePaths: [join(root, 'node_modules')], bundle: true, format: 'esm', platform: 'neutral', target: 'es2022',
    external: ['node:*'], outfile: join(pkg, 'dist/snapgrad.js'), logLevel: 'silent',
  });
  const sg = await import(pathToFileURL(join(pkg, 'dist/snapgrad.js')).href);
  await sg.init();
  const m = await sg.io.loadMnist(undefined, { limitTrain: 8, limitTest: 8 });
  expect(m.trainLabels.toArray()).toEqual([5, 0, 4, 1, 9, 2, 1, 3]);
  expect(m.testLabels.toArray()).toEqual([7, 2, 1, 0, 4, 1, 4, 9]);
  for (const t of Object.values(m) as any[]) t.dispose();
  expect(sg.memoryStats().tensorsAlive).toBe(0);
});
