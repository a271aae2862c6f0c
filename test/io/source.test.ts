import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { init } from '../../src/runtime/loader.js';
import { gunzip, isGzip, readBytes } from '../../src/io/index.js';

let dir = '';
beforeAll(async () => {
  await init();
  dir = mkdtempSync(join(tmpdir(), 'snapgrad-src-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const payload = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 131 + (i >> 8)) & 0xff);

test('readBytes from every kind of source, optionally gunzipping', async () => {
  const gz = new Uint8Array(gzipSync(payload));
  writeFileSync(join(dir, 'p.bin'), payload);
  writeFileSync(join(dir, 'p.bin.gz'), gz);
  const plainSources = [payload, payload.slice().buffer, new DataView(payload.buffer), join(dir, 'p.bin'), pathToFileURL(join(dir, 'p.bin')),
    pathToFileURL(join(dir, 'p.bin')).href, new Response(payload), Promise.resolve(new Response(payload))];
  for (const s of plainSources) expect(Buffer.from(await readBytes(s as any)).equals(Buffer.from(payload))).toBe(true);
  expect(Buffer.from(await readBytes(join(dir, 'p.bin.gz'))).equals(Buffer.from(gz))).toBe(true);
  expect(Buffer.from(await readBytes(join(dir, 'p.bin.gz'), { gunzip: true })).equals(Buffer.from(payload))).toBe(true);
  expect(Buffer.from(await readBytes(join(dir, 'p.bin'), { gunzip: true })).equals(Buffer.from(payload))).toBe(true);
});

test('a drive-letter string is a path, not a URL with a one-letter scheme', async () => {
  await expect(readBytes('C:\\data\\x.bin')).rejects.toThrow('readBytes: file C:\\data\\x.bin does not exist');
});

test('gunzip: multi-member files, shared-memory input, size cap, corrupt and non-gzip input', async () => {
  const gz = new Uint8Array(gzipSync(payload));
  expect(isGzip(gz)).toBe(true);
  expect(isGzip(payload)).toBe(false);
  expect(isGzip(gz.subarray(0, 1))).toBe(false);
  const twice = new Uint8Array([...gz, ...gz]);
  expect((await gunzip(twice)).length).toBe(2 * payload.length);
  const shared = new Uint8Array(new SharedArrayBuffer(gz.length));
  shared.set(gz);
  expect(Buffer.from(await gunzip(shared)).equals(Buffer.from(payload))).toBe(true);
  const bomb = new Uint8Array(gzipSync(new Uint8Array(4 * 2 ** 20)));
  expect(bomb.length).toBeLessThan(10_000);
  await expect(gunzip(bomb, { name: 'bomb.gz', maxBytes: 2 ** 20 })).rejects.toThrow('gunzip: bomb.gz decompresses to more than 1048576 bytes');
  expect((await gunzip(bomb, { maxBytes: 4 * 2 ** 20 })).length).toBe(4 * 2 ** 20);
  await expect(gunzip(gz.subarray(0, 100), { name: 'cut.gz' })).rejects.toThrow(/^gunzip: cut\.gz is corrupt or truncated gzip data: /);
  const flipped = gz.slice();
  flipped[gz.length - 6] ^= 0xff; // inside the CRC32 of the trailer
  await expect(gunzip(flipped)).rejects.toThrow(/gunzip: bytes is corrupt or truncated gzip data/);
  await expect(gunzip(payload, { name: 'raw.bin' })).rejects.toThrow('gunzip: raw.bin is not gzip data (expected the bytes 1f 8b at the start)');
  await expect(gunzip('x' as any)).rejects.toThrow('gunzip: bytes must be a Uint8Array, got "x"');
  expect(() => gunzip(gz, { maxBytes: -1 })).toThrow('gunzip: maxBytes must be >= 0, got -1');
});
