// Issue 10, io: every listed example in this scope and the sweep beyond it.
// Sources of bytes are hostile: a rejected file is an Error that starts with
// the public function's name and says what is wrong, allocates no tensor, and
// stops decompressing as soon as a limit is passed.
import { createGzip, gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { disposeAfterEach, expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const own = disposeAfterEach();
const { io } = sg;

/** An IDX file: magic, type code, big-endian dims, then data. */
function idx(type: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const dv = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => dv.setInt32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** gzip of an IDX header declaring [n] uint8 followed by n zero bytes, streamed (never n bytes in memory). */
async function zeroBomb(n: number): Promise<Uint8Array> {
  const gz = createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gz.on('data', (c: Buffer) => parts.push(c));
  const done = new Promise((resolve) => gz.on('end', resolve));
  gz.write(Buffer.from(idx(0x08, [n], new Uint8Array(0))));
  const zeros = Buffer.alloc(1 << 24);
  for (let left = n; left > 0; left -= zeros.length) gz.write(zeros.subarray(0, Math.min(left, zeros.length)));
  gz.end();
  await done;
  return new Uint8Array(Buffer.concat(parts));
}

function safetensors(header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('class 1: null options', () => {
  test('io.loadIdx(b, null) is io.loadIdx(b); readBytes, gunzip, parseIdx and loadMnist take null too', async () => {
    const b = idx(0x08, [2, 3], new Uint8Array([1, 2, 3, 4, 5, 6]));
    const t = own(await io.loadIdx(b, null as any));
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(own(await io.loadIdx(b, { limit: null } as any)).dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(own(io.parseIdx(b, null as any)).shape).toEqual([2, 3]);
    expect(Array.from(await io.readBytes(b, null as any))).toEqual(Array.from(b));
    const gz = new Uint8Array(gzipSync(b));
    expect(Array.from(await io.gunzip(gz, null as any))).toEqual(Array.from(b));
    expect(Array.from(await io.readBytes(gz, { gunzip: true, maxBytes: null } as any))).toEqual(Array.from(b));
    // null options get as far as looking for the files (they used to be "options must be an object, got null").
    await expect(io.loadMnist('/nonexistent-snapgrad-dir', null as any)).rejects.toThrow(/^loadMnist: neither .* nor .* exists/);
    await expect(io.loadMnist(null as any, { limitTrain: -1 })).rejects.toThrow(/^loadMnist: limitTrain must be >= 0/);
  });

  test('wrong option types name the function and the option', async () => {
    const b = idx(0x08, [1], new Uint8Array([1]));
    await expect(io.loadIdx(b, 5 as any)).rejects.toThrow(/^loadIdx: options must be an object/);
    await expect(io.loadIdx(b, { maxBytes: -1 })).rejects.toThrow(/^loadIdx: maxBytes must be >= 0/);
    await expect(io.readBytes(b, { gunzip: 'yes' } as any)).rejects.toThrow(/^readBytes: gunzip must be true or false/);
    await expect(io.readBytes(b, { maxRatio: 0 })).rejects.toThrow(/^readBytes: maxRatio must be >= 1/);
    await expect(io.readBytes(b, { maxBytes: NaN })).rejects.toThrow(/^readBytes: maxBytes must be a number/);
    expect(() => io.gunzip(b, { name: 5 } as any)).toThrow(/^gunzip: name must be a string/);
    await expect(io.loadMnist(undefined, 'x' as any)).rejects.toThrow(/^loadMnist: options must be an object/);
    expect(() => io.parseSafetensors(new Uint8Array(8), 5 as any)).toThrow(/^parseSafetensors: name must be a string/);
  });
});

describe('class 3: saveSafetensors(new Map(...))', () => {
  test('a Map of tensors is written (it was an empty 16-byte file) and reads back bit for bit', () => {
    const a = own(sg.tensor([1.5, -2, 3], [3]));
    const b = own(sg.tensor([7, 8], [2], { dtype: 'int32' }));
    const bytes = io.saveSafetensors(new Map([['b', b], ['a', a]]), new Map([['k', 'v']]));
    expect(bytes.length).toBeGreaterThan(16 + 12 + 8);
    const back = io.parseSafetensors(bytes);
    for (const t of Object.values(back.tensors)) own(t);
    expect(Object.keys(back.tensors).sort()).toEqual(['a', 'b']);
    expect(Array.from(back.tensors.a.dataSync())).toEqual([1.5, -2, 3]);
    expect(Array.from(back.tensors.b.dataSync())).toEqual([7, 8]);
    expect(back.metadata).toEqual({ k: 'v' });
    expect(io.saveSafetensors(new Map([['a', a]]))).toEqual(io.saveSafetensors({ a }));
    expect(() => io.saveSafetensors(new Map([[1, a]]) as any)).toThrow(/^saveSafetensors: the keys of tensors must be strings, got 1/);
    expect(() => io.saveSafetensors(new Map([['x', 5]]) as any)).toThrow(/^saveSafetensors: tensors\["x"\] must be a Tensor/);
    expect(() => io.saveSafetensors(new Set([a]) as any)).toThrow(/^saveSafetensors: tensors must be an object mapping names to tensors/);
    expect(io.saveSafetensors({ a }, null)).toEqual(io.saveSafetensors({ a }));
  });
});

describe('class 6: decompression is bounded', () => {
  test('a 0.97 MB gzip declaring 1e9 bytes is refused by loadIdx at once (it took 17 s and made a 1e9-byte tensor)', async () => {
    const bomb = await zeroBomb(1e9);
    expect(bomb.length).toBeLessThan(1_000_000);
    const before = sg.memoryStats();
    const t0 = performance.now();
    await expect(io.loadIdx(bomb)).rejects.toThrow(/^loadIdx: bytes declares 1000000008 bytes of data in its header, more than maxBytes = 268435456; pass a larger maxBytes/);
    // With a larger maxBytes, the ratio limit still stops it early.
    await expect(io.loadIdx(bomb, { maxBytes: 2 ** 31 })).rejects.toThrow(/^loadIdx: bytes decompresses to more than 200 bytes per compressed byte \(maxRatio\)/);
    // readBytes has no header to go by: maxBytes and maxRatio stop it.
    await expect(io.readBytes(bomb, { gunzip: true })).rejects.toThrow(/^readBytes: bytes decompresses to more than 200 bytes per compressed byte/);
    await expect(io.readBytes(bomb, { gunzip: true, maxBytes: 2 ** 20 })).rejects.toThrow(/^readBytes: bytes decompresses to more than 1048576 bytes \(maxBytes\)/);
    await expect(io.gunzip(bomb, { maxRatio: 1e6 })).rejects.toThrow(/^gunzip: bytes decompresses to more than 268435456 bytes \(maxBytes\)/);
    // Each refusal stops at its limit, far from the 1e9 bytes (about 1 s in all here; generous for a busy machine).
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(sg.memoryStats()).toEqual(before);
  }, 60_000);

  test('a gzipped IDX file whose data runs past its header is refused as soon as it does', async () => {
    const declared = idx(0x08, [4], new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    await expect(io.loadIdx(new Uint8Array(gzipSync(declared)))).rejects.toThrow(/^loadIdx: bytes decompresses to more than the 12 bytes its header declares/);
    const shortHeader = new Uint8Array(gzipSync(new Uint8Array([0, 0, 8])));
    await expect(io.loadIdx(shortHeader)).rejects.toThrow(/^loadIdx: bytes is not a valid IDX file: it is 3 bytes long/);
    await expect(io.loadIdx(new Uint8Array(gzipSync(new Uint8Array([1, 2, 3, 4, 5]))))).rejects.toThrow(/^loadIdx: bytes is not a valid IDX file: the magic number must start with two zero bytes/);
    // An honest large file within the limits still loads.
    const honest = idx(0x08, [3, 1000], new Uint8Array(3000).map((_, i) => i % 251));
    const t = own(await io.loadIdx(new Uint8Array(gzipSync(honest))));
    expect(t.shape).toEqual([3, 1000]);
    expect((t.dataSync() as Uint8Array)[2999]).toBe(2999 % 251);
  });
});

describe('hostile gzip: truncated, bad CRC, bad ISIZE, trailing junk, multi-member', () => {
  const payload = idx(0x08, [5], new Uint8Array([9, 8, 7, 6, 5]));
  const gz = new Uint8Array(gzipSync(payload));
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['truncated', () => gz.subarray(0, gz.length - 5), /is corrupt or truncated gzip data: /],
    ['bad CRC', () => { const b = gz.slice(); b[b.length - 8] ^= 1; return b; }, /is corrupt or truncated gzip data: /],
    ['bad ISIZE', () => { const b = gz.slice(); b[b.length - 1] ^= 1; return b; }, /is corrupt or truncated gzip data: /],
    ['trailing junk', () => new Uint8Array([...gz, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), /is corrupt or truncated gzip data: /],
  ];
  for (const [what, make, re] of cases) {
    test(`${what}: gunzip, readBytes and loadIdx reject it naming the source`, async () => {
      const before = sg.memoryStats();
      await expect(io.gunzip(make(), { name: 'x.gz' })).rejects.toThrow(new RegExp('^gunzip: x\\.gz ' + re.source));
      await expect(io.readBytes(make(), { gunzip: true })).rejects.toThrow(new RegExp('^readBytes: bytes ' + re.source));
      await expect(io.loadIdx(make())).rejects.toThrow(new RegExp('^loadIdx: bytes ' + re.source));
      expect(sg.memoryStats()).toEqual(before);
    });
  }
  test('multi-member: the members are concatenated; for loadIdx the second member is data past the header', async () => {
    const two = new Uint8Array([...gz, ...gz]);
    expect(Array.from(await io.gunzip(two))).toEqual([...payload, ...payload]);
    await expect(io.loadIdx(two)).rejects.toThrow(/^loadIdx: bytes decompresses to more than the 13 bytes its header declares/);
  });
});

describe('hostile IDX and safetensors bytes', () => {
  test('IDX: bad magic, unknown type, dims whose product overflows, truncated, trailing: named errors, nothing allocated', async () => {
    const before = sg.memoryStats();
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array([1, 0, 8, 1, 0, 0, 0, 0]), /the magic number must start with two zero bytes/],
      [new Uint8Array([0, 0, 7, 1, 0, 0, 0, 0]), /unknown type code 07/],
      [idx(0x08, [0x7fffffff, 0x7fffffff, 0x7fffffff], new Uint8Array(4)), /truncated: the header \[2147483647,2147483647,2147483647\] of uint8 needs/],
      [idx(0x0c, [3], new Uint8Array(11)), /truncated/],
      [idx(0x08, [3], new Uint8Array(4)), /1 trailing bytes/],
      [new Uint8Array([0, 0, 8, 9]), /the number of dimensions must be 1\.\.8, got 9/],
    ];
    for (const [b, re] of cases) {
      await expect(io.loadIdx(b)).rejects.toThrow(new RegExp('^loadIdx: bytes is not a valid IDX file: ' + re.source));
      const declared = new Uint8Array(gzipSync(b));
      await expect(io.loadIdx(declared)).rejects.toThrow(/^loadIdx: bytes (is not a valid IDX file|declares [\d.e+]+ bytes|decompresses to more than the \d+ bytes its header declares)/);
    }
    expect(sg.memoryStats()).toEqual(before);
  });

  test('safetensors: huge header length, overlapping/out-of-range offsets, non-JSON, duplicate keys, size mismatch, too many dims', () => {
    const before = sg.memoryStats();
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 60n, true);
    const e = (dtype: string, shape: number[], a: number, b: number): object => ({ dtype, shape, data_offsets: [a, b] });
    const cases: [Uint8Array, RegExp][] = [
      [huge, /the header length \d+ exceeds the limit/],
      [safetensors(JSON.stringify({ a: e('U8', [4], 0, 4), b: e('U8', [4], 2, 6) }), new Uint8Array(6)), /overlaps/],
      [safetensors(JSON.stringify({ a: e('U8', [4], 0, 4) }), new Uint8Array(2)), /truncated/],
      [safetensors('{"a": nope}'), /the header is not valid JSON/],
      [safetensors('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)), /the key "a" more than once/],
      [safetensors(JSON.stringify({ a: e('F32', [2], 0, 4) }), new Uint8Array(4)), /F32 \[2\] needs 8 bytes, but data_offsets \[0, 4\] span 4/],
      [safetensors(JSON.stringify({ a: e('Q4', [2], 0, 2) }), new Uint8Array(2)), /unsupported dtype "Q4"/],
      [safetensors(JSON.stringify({ a: e('U8', [1, 1, 1, 1, 1, 1, 1, 1, 1], 0, 1) }), new Uint8Array(1)), /9 dimensions; at most 8/],
      [safetensors(JSON.stringify({ a: e('U8', [2 ** 40, 0], 0, 0) })), /has a dimension above 2147483647/],
    ];
    for (const [b, re] of cases) {
      expect(() => io.parseSafetensors(b, 'm.safetensors')).toThrow(new RegExp('^parseSafetensors: m\\.safetensors is not a valid safetensors file: .*' + re.source));
    }
    expect(sg.memoryStats()).toEqual(before);
  });
});
