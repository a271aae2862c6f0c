import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { init } from '../../src/runtime/loader.js';
import { memoryStats } from '../../src/runtime/stats.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { loadIdx, parseIdx, parseIdxHeader } from '../../src/io/index.js';

let dir = '';
beforeAll(async () => {
  await init();
  dir = mkdtempSync(join(tmpdir(), 'snapgrad-idx-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
const CODES: Record<IdxType, [number, number]> = {
  uint8: [0x08, 1], int8: [0x09, 1], int16: [0x0b, 2], int32: [0x0c, 4], float32: [0x0d, 4], float64: [0x0e, 8],
};

/** An independent IDX writer: magic, big-endian dims, big-endian values. */
function writeIdx(type: IdxType, shape: number[], values: number[]): Uint8Array {
  const [code, size] = CODES[type];
  const head = 4 + 4 * shape.length;
  const out = new Uint8Array(head + values.length * size);
  const dv = new DataView(out.buffer);
  out[2] = code;
  out[3] = shape.length;
  shape.forEach((d, i) => dv.setInt32(4 + 4 * i, d, false));
  values.forEach((v, i) => {
    const p = head + i * size;
    if (type === 'uint8') dv.setUint8(p, v);
    else if (type === 'int8') dv.setInt8(p, v);
    else if (type === 'int16') dv.setInt16(p, v, false);
    else if (type === 'int32') dv.setInt32(p, v, false);
    else if (type === 'float32') dv.setFloat32(p, v, false);
    else dv.setFloat64(p, v, false);
  });
  return out;
}

function randomValues(r: () => number, type: IdxType, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = r();
    if (type === 'uint8') out.push(Math.floor(u * 256));
    else if (type === 'int8') out.push(Math.floor(u * 256) - 128);
    else if (type === 'int16') out.push(Math.floor(u * 65536) - 32768);
    else if (type === 'int32') out.push(Math.floor(u * 2 ** 32) - 2 ** 31);
    else if (type === 'float32') out.push(Math.fround((u - 0.5) * 1000));
    else out.push((u - 0.5) * 10 ** Math.floor(r() * 80 - 40));
  }
  return out;
}

const WANT_DTYPE: Record<IdxType, string> = { uint8: 'uint8', int8: 'int8', int16: 'int32', int32: 'int32', float32: 'float32', float64: 'float32' };

function expectLoaded(t: Tensor, type: IdxType, shape: number[], values: number[]): void {
  expect(t.dtype).toBe(WANT_DTYPE[type]);
  expect(t.shape).toEqual(shape);
  const want = type === 'float64' ? values.map(Math.fround) : values;
  expect(Array.from(t.dataSync())).toEqual(want);
}

describe('parseIdx', () => {
  test('300 randomized files of every type (seeded) decode exactly', () => {
    const r = rng(7);
    const types = Object.keys(CODES) as IdxType[];
    const dims = [0, 1, 2, 3, 5, 7, 13, 28, 31, 33];
    for (let trial = 0; trial < 300; trial++) {
      const type = types[trial % types.length];
      const rank = 1 + Math.floor(r() * 4);
      const shape = Array.from({ length: rank }, () => dims[Math.floor(r() * dims.length)]);
      if (shape.reduce((a, b) => a * b, 1) > 4000) shape.length = 1;
      const n = shape.reduce((a, b) => a * b, 1);
      const values = randomValues(r, type, n);
      const t = parseIdx(writeIdx(type, shape, values));
      expectLoaded(t, type, shape, values);
      t.dispose();
    }
  });

  test('int32 and float32 extremes are byte-swapped exactly; float64 rounds to nearest float32', () => {
    const ints = [-(2 ** 31), 2 ** 31 - 1, 0, -1, 0x01020304];
    const a = parseIdx(writeIdx('int32', [5], ints));
    expect(Array.from(a.dataSync())).toEqual(ints);
    const floats = [0, -0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, 0.1];
    const b = parseIdx(writeIdx('float32', [7], floats));
    expect(Array.from(b.dataSync())).toEqual(floats.map(Math.fround));
    expect(Object.is(b.dataSync()[1], -0)).toBe(true);
    const c = parseIdx(writeIdx('float64', [4], [1e300, -1e300, 1 + 2 ** -24, 2 ** -160]));
    expect(Array.from(c.dataSync())).toEqual([Infinity, -Infinity, 1, 0]);
    const nan = parseIdx(writeIdx('float32', [1], [NaN]));
    expect(Number.isNaN(nan.dataSync()[0])).toBe(true);
    for (const t of [a, b, c, nan]) t.dispose();
  });

  test('limit keeps the first rows along dimension 0', () => {
    const values = Array.from({ length: 5 * 3 }, (_, i) => i);
    const bytes = writeIdx('int16', [5, 3], values);
    for (const [limit, rows] of [[0, 0], [2, 2], [5, 5], [99, 5]]) {
      const t = parseIdx(bytes, { limit });
      expect(t.shape).toEqual([rows, 3]);
      expect(Array.from(t.dataSync())).toEqual(values.slice(0, rows * 3));
      t.dispose();
    }
    expect(() => parseIdx(bytes, { limit: -1 })).toThrow(/parseIdx: limit must be >= 0, got -1/);
    expect(() => parseIdx(bytes, { limit: 1.5 })).toThrow(/parseIdx: limit must be an integer/);
    // The whole file is validated even when only a prefix is kept.
    expect(() => parseIdx(bytes.subarray(0, bytes.length - 1), { limit: 1 })).toThrow(/truncated/);
  });

  test('parseIdxHeader reports the header', () => {
    expect(parseIdxHeader(writeIdx('float64', [2, 1, 3], new Array(6).fill(0)))).toEqual({
      typeCode: 0x0e, type: 'float64', dtype: 'float32', shape: [2, 1, 3], headerBytes: 16,
    });
  });
});

describe('bad IDX files are rejected with errors naming the source, and nothing leaks', () => {
  function expectRejected(bytes: Uint8Array, re: RegExp): void {
    const before = memoryStats();
    expect(() => parseIdx(bytes, { name: 'x.idx' })).toThrow(re);
    expect(() => parseIdx(bytes, { name: 'x.idx' })).toThrow(/^parseIdx: x\.idx is not a valid IDX file: /);
    expect(memoryStats().bytesInUse).toBe(before.bytesInUse);
    expect(memoryStats().tensorsAlive).toBe(before.tensorsAlive);
  }
  const ok = () => writeIdx('uint8', [2, 3], [1, 2, 3, 4, 5, 6]);

  test('wrong magic, type code or number of dimensions', () => {
    expectRejected(new Uint8Array(0), /0 bytes long, shorter than the 4-byte magic number/);
    expectRejected(new Uint8Array([0, 0, 8]), /3 bytes long/);
    const m = ok();
    m[1] = 1;
    expectRejected(m, /magic number must start with two zero bytes, got 00 01/);
    expectRejected(gzipSync(ok()), /got 1f 8b \(this is gzip data; loadIdx decompresses it, parseIdx does not\)/);
    for (const code of [0x00, 0x07, 0x0a, 0x0f, 0xff]) {
      const b = ok();
      b[2] = code;
      expectRejected(b, new RegExp(`unknown type code ${code.toString(16).padStart(2, '0')} \\(expected 08 uint8`));
    }
    expectRejected(new Uint8Array([0, 0, 8, 0]), /the number of dimensions must be 1\.\.8, got 0/);
    expectRejected(new Uint8Array([0, 0, 8, 9, ...new Array(36).fill(0)]), /the number of dimensions must be 1\.\.8, got 9/);
    expectRejected(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1]), /the header needs 16 bytes for 3 dimensions, but the file has 8/);
  });

  test('negative and oversized dimensions', () => {
    const neg = writeIdx('uint8', [2, 3], [1, 2, 3, 4, 5, 6]);
    new DataView(neg.buffer).setInt32(8, -3, false);
    expectRejected(neg, /dimension 1 is negative \(-3\)/);
    const huge = writeIdx('float64', [0x7fffffff, 0x7fffffff, 0x7fffffff], []);
    expectRejected(huge, /truncated: the header \[2147483647,2147483647,2147483647\] of float64 needs \d.* data bytes, the file has 0/);
  });

  test('truncated data and trailing bytes', () => {
    const b = writeIdx('int32', [2, 3], [1, 2, 3, 4, 5, 6]);
    for (let cut = 1; cut < 24; cut++) {
      expectRejected(b.subarray(0, b.length - cut), new RegExp(`truncated: the header \\[2,3\\] of int32 needs 24 data bytes, the file has ${24 - cut}`));
    }
    const long = new Uint8Array(b.length + 3);
    long.set(b);
    expectRejected(long, /3 trailing bytes after the 24 data bytes the header \[2,3\] of int32 describes/);
  });
});

describe('loadIdx sources, gzipped or not', () => {
  test('bytes, ArrayBuffer, path, file: URL, URL string, Response, gz and plain', async () => {
    const values = Array.from({ length: 4 * 7 }, (_, i) => (i * 37) % 256);
    const plain = writeIdx('uint8', [4, 7], values);
    const gz = new Uint8Array(gzipSync(plain));
    writeFileSync(join(dir, 'a.idx'), plain);
    writeFileSync(join(dir, 'a.idx.gz'), gz);
    const sources: unknown[] = [plain, gz, plain.slice().buffer, join(dir, 'a.idx'), join(dir, 'a.idx.gz'),
      pathToFileURL(join(dir, 'a.idx.gz')), pathToFileURL(join(dir, 'a.idx')).href, new Response(gz), Promise.resolve(new Response(plain))];
    for (const s of sources) {
      const t = await loadIdx(s as any);
      expectLoaded(t, 'uint8', [4, 7], values);
      t.dispose();
    }
    const limited = await loadIdx(join(dir, 'a.idx.gz'), { limit: 2 });
    expect(limited.shape).toEqual([2, 7]);
    limited.dispose();
  });

  test('a relative path resolves against the working directory', async () => {
    const t = await loadIdx('examples/data/mnist/t10k-labels-idx1-ubyte.gz', { limit: 3 });
    expect(t.toArray()).toEqual([7, 2, 1]);
    t.dispose();
  });

  test('corrupt and truncated gzip, and bad IDX inside gzip, name the file; nothing leaks', async () => {
    const plain = writeIdx('float32', [50, 20], Array.from({ length: 1000 }, (_, i) => Math.sin(i)));
    const gz = new Uint8Array(gzipSync(plain));
    const corrupt = gz.slice();
    corrupt.fill(0xff, 20, 60);
    const badInside = new Uint8Array(gzipSync(plain.subarray(0, plain.length - 4)));
    const files: [string, Uint8Array, RegExp][] = [
      ['truncated.gz', gz.subarray(0, gz.length - 10), /loadIdx: .*truncated\.gz is corrupt or truncated gzip data/],
      ['cut-trailer.gz', gz.subarray(0, gz.length - 4), /loadIdx: .*cut-trailer\.gz is corrupt or truncated gzip data/],
      ['header-only.gz', gz.subarray(0, 10), /loadIdx: .*header-only\.gz is corrupt or truncated gzip data/],
      ['corrupt.gz', corrupt, /loadIdx: .*corrupt\.gz is corrupt or truncated gzip data/],
      ['inside.gz', badInside, /loadIdx: .*inside\.gz is not a valid IDX file: truncated: the header \[50,20\] of float32 needs 4000 data bytes, the file has 3996/],
      ['empty', new Uint8Array(0), /loadIdx: .*empty is not a valid IDX file: it is 0 bytes long/],
    ];
    const before = memoryStats();
    for (const [name, bytes, re] of files) {
      writeFileSync(join(dir, name), bytes);
      await expect(loadIdx(join(dir, name))).rejects.toThrow(re);
    }
    await expect(loadIdx(gz.subarray(0, gz.length - 10))).rejects.toThrow(/loadIdx: bytes is corrupt or truncated gzip data/);
    expect(memoryStats().bytesInUse).toBe(before.bytesInUse);
    expect(memoryStats().tensorsAlive).toBe(before.tensorsAlive);
  });

  test('missing files and bad sources', async () => {
    const missing = join(dir, 'missing.idx');
    await expect(loadIdx(missing)).rejects.toThrow(`loadIdx: file ${missing} does not exist`);
    await expect(loadIdx(pathToFileURL(missing))).rejects.toThrow(/loadIdx: file file:\/\/.*missing\.idx does not exist/);
    await expect(loadIdx(dir)).rejects.toThrow(/loadIdx: cannot read .*EISDIR/);
    await expect(loadIdx(undefined as any)).rejects.toThrow(/loadIdx: source must be a Uint8Array, ArrayBuffer, Response, URL or path string, got undefined/);
    await expect(loadIdx('')).rejects.toThrow(/loadIdx: path must be a non-empty string/);
    await expect(loadIdx('http://exa mple/')).rejects.toThrow(/loadIdx: "http:\/\/exa mple\/" looks like a URL but does not parse as one/);
    await expect(loadIdx(new Response('nope', { status: 404 }))).rejects.toThrow(/loadIdx: Response answered HTTP 404/);
    await expect(loadIdx(Promise.resolve(5) as any)).rejects.toThrow(/loadIdx: source promise resolved to 5, expected a Response/);
  });
});
