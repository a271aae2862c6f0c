import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rt } from '../../src/runtime/context.js';
import { init } from '../../src/runtime/loader.js';
import { memoryStats } from '../../src/runtime/stats.js';
import { randn, tensor } from '../../src/tensor/creation.js';
import type { DType } from '../../src/tensor/dtypes.js';
import { empty, Tensor } from '../../src/tensor/tensor.js';
import { loadSafetensors, parseSafetensors, saveSafetensors } from '../../src/io/index.js';
import { f16BitsToF32Bits, findDuplicateKey } from '../../src/io/safetensors.js';

beforeAll(async () => {
  await init();
});

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'snapgrad-st-'));
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

const enc = new TextEncoder();

/** An independent writer: header length, the JSON text exactly as given (padded to 8 with spaces), then the data. */
function buildFile(headerText: string, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  const json = enc.encode(headerText);
  const n = pad ? Math.ceil(json.length / 8) * 8 : json.length;
  const out = new Uint8Array(8 + n + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  out.set(data, 8 + n);
  return out;
}

function entry(dtype: string, shape: number[], begin: number, end: number): object {
  return { dtype, shape, data_offsets: [begin, end] };
}

/** Bit-exact view of a tensor's contents (so NaN payloads and -0 compare). */
function bits(t: Tensor): number[] {
  const d = t.dataSync();
  if (d instanceof Float32Array) return Array.from(new Uint32Array(d.buffer, d.byteOffset, d.length));
  return Array.from(d);
}

function disposeAll(r: { tensors: Record<string, Tensor> }): void {
  for (const t of Object.values(r.tensors)) t.dispose();
}

/** Asserts that parsing fails with a message matching `re` and that nothing leaks. */
function expectRejected(bytes: Uint8Array, re: RegExp): void {
  const before = memoryStats();
  expect(() => parseSafetensors(bytes, 'hostile.safetensors')).toThrow(re);
  try {
    parseSafetensors(bytes, 'hostile.safetensors');
  } catch (err) {
    expect(String((err as Error).message)).toMatch(/^parseSafetensors: hostile\.safetensors /);
  }
  const after = memoryStats();
  expect(after.bytesInUse).toBe(before.bytesInUse);
  expect(after.tensorsAlive).toBe(before.tensorsAlive);
}

const RANGES: Record<DType, [number, number]> = {
  float32: [0, 0],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int8: [-128, 127],
  uint8: [0, 255],
};

function randomTensor(r: () => number, dtype: DType, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data: number[] = [];
  for (let i = 0; i < n; i++) {
    if (dtype === 'float32') data.push((r() - 0.5) * 10 ** Math.floor(r() * 10 - 5));
    else {
      const [lo, hi] = RANGES[dtype];
      data.push(lo + Math.floor(r() * (hi - lo + 1)));
    }
  }
  return tensor(data, shape, { dtype });
}

describe('saveSafetensors / parseSafetensors round trip', () => {
  test('every dtype, scalars, 0-sized and special float values, with metadata', () => {
    const before = memoryStats();
    const specials = new Float32Array([0, -0, Infinity, -Infinity, NaN, 1e-45, 3.4028234663852886e38, -1.5]);
    const nanPayload = new Uint32Array([0x7fc00001, 0xffc12345]);
    const tensors: Record<string, Tensor> = {
      'f.special': tensor(specials, [8]),
      'f.nan': tensor(new Float32Array(nanPayload.buffer), [2]),
      'i.extremes': tensor([-(2 ** 31), 2 ** 31 - 1, 0, -1], [2, 2], { dtype: 'int32' }),
      'i8': tensor([-128, 127, 0], [3], { dtype: 'int8' }),
      'u8': tensor([0, 255, 7, 9, 11, 13], [1, 2, 3], { dtype: 'uint8' }),
      scalar: tensor(2.5),
      'scalar.i32': tensor(-7, [], { dtype: 'int32' }),
      empty: tensor([], [0], { dtype: 'float32' }),
      'empty.u8': tensor([], [3, 0, 2], { dtype: 'uint8' }),
      'unicode ✓ 名前': tensor([1, 2], [2], { dtype: 'int8' }),
    };
    const metadata = { format: 'pt', note: 'quotes " and \\ and ✓', '': 'empty key' };
    const bytes = saveSafetensors(tensors, metadata);
    const back = parseSafetensors(bytes);
    expect(back.metadata).toEqual(metadata);
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const u = back.tensors[name];
      expect(u.dtype, name).toBe(t.dtype);
      expect(u.shape, name).toEqual(t.shape);
      expect(bits(u), name).toEqual(bits(t));
    }
    disposeAll(back);
    for (const t of Object.values(tensors)) t.dispose();
    expect(memoryStats().bytesInUse).toBe(before.bytesInUse);
    expect(memoryStats().tensorsAlive).toBe(before.tensorsAlive);
  });

  test('300 randomized dictionaries (seeded) round-trip bit for bit, and the layout follows the format', () => {
    const r = rng(12345);
    const dtypes: DType[] = ['float32', 'int32', 'int8', 'uint8'];
    const dims = [0, 1, 2, 3, 5, 7, 13, 31, 33, 127];
    for (let trial = 0; trial < 300; trial++) {
      const count = Math.floor(r() * 6);
      const tensors: Record<string, Tensor> = {};
      for (let i = 0; i < count; i++) {
        const rank = Math.floor(r() * 4);
        const shape = Array.from({ length: rank }, () => dims[Math.floor(r() * dims.length)]);
        if (shape.reduce((a, b) => a * b, 1) > 5000) shape.length = 1;
        tensors[`layer${Math.floor(r() * 1000)}.w${i}`] = randomTensor(r, dtypes[Math.floor(r() * 4)], shape);
      }
      const metadata = r() < 0.5 ? { trial: String(trial) } : undefined;
      const bytes = saveSafetensors(tensors, metadata);
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect(n % 8).toBe(0);
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
      // Data in name order, contiguous from 0 to the end of the file.
      let pos = 0;
      for (const name of Object.keys(tensors).sort()) {
        expect(header[name].data_offsets[0]).toBe(pos);
        pos = header[name].data_offsets[1];
      }
      expect(8 + n + pos).toBe(bytes.length);
      const back = parseSafetensors(bytes);
      expect(back.metadata).toEqual(metadata ?? {});
      for (const [name, t] of Object.entries(tensors)) {
        expect(back.tensors[name].shape).toEqual(t.shape);
        expect(back.tensors[name].dtype).toBe(t.dtype);
        expect(bits(back.tensors[name])).toEqual(bits(t));
      }
      disposeAll(back);
      for (const t of Object.values(tensors)) t.dispose();
    }
  });

  test('unknown fields in a tensor entry are ignored, as in the reference implementation', () => {
    const r = parseSafetensors(buildFile('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"extra":{"x":[1]}}}', new Uint8Array([4, 5])));
    expect(r.tensors.a.toArray()).toEqual([4, 5]);
    disposeAll(r);
  });

  test('bytes that are a view of the wasm memory itself are read safely while the memory grows', () => {
    const src = randn([3_000_000], { seed: 3 });
    const file = saveSafetensors({ src });
    const inWasm = empty([file.length], 'uint8');
    new Uint8Array(rt().memory.buffer, inWasm.offset, file.length).set(file);
    const before = rt().memory.buffer;
    // Allocating the parsed tensor (12 MB) must grow the memory, which detaches `view`'s buffer.
    const filler = empty([Math.max(0, before.byteLength - rt().allocator.bytesInUse - 4 * 2 ** 20)], 'uint8');
    const view = new Uint8Array(rt().memory.buffer, inWasm.offset, file.length);
    const parsed = parseSafetensors(view);
    expect(rt().memory.buffer).not.toBe(before);
    const a = parsed.tensors.src.dataSync();
    const b = src.dataSync();
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    disposeAll(parsed);
    for (const t of [src, inWasm, filler]) t.dispose();
  });

  test('an empty dictionary is a valid file', () => {
    const bytes = saveSafetensors({});
    expect(Array.from(bytes)).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]);
    expect(parseSafetensors(bytes)).toEqual({ tensors: {}, metadata: {} });
  });

  test('names that are integers or "__proto__" keep their order and are real properties', () => {
    const tensors = { '10': tensor([1]), '9': tensor([2]), __proto__x: tensor([3]) } as Record<string, Tensor>;
    const bytes = saveSafetensors(tensors);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))));
    expect(text.indexOf('"10"')).toBeLessThan(text.indexOf('"9"'));
    // JSON.stringify drops a literal __proto__ key, so the header text is written by hand.
    const hostileName = buildFile('{"__proto__":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}', new Uint8Array(4));
    const r = parseSafetensors(hostileName);
    expect(Object.prototype.hasOwnProperty.call(r.tensors, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(r.tensors)).toBe(Object.prototype);
    expect(r.tensors['__proto__'].shape).toEqual([4]);
    disposeAll(r);
    for (const t of Object.values(tensors)) t.dispose();
  });
});

describe('the written bytes match the format description', () => {
  test('hand-computed file', () => {
    const tensors = {
      b: tensor([1, -2, 3], [3], { dtype: 'int8' }),
      a: tensor([1.5, -2], [2, 1]),
      c: tensor([258, -1], [2], { dtype: 'int32' }),
      d: tensor(200, [], { dtype: 'uint8' }),
    };
    const bytes = saveSafetensors(tensors, { format: 'torch' });
    const headerText =
      '{"__metadata__":{"format":"torch"},' +
      '"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},' +
      '"b":{"dtype":"I8","shape":[3],"data_offsets":[8,11]},' +
      '"c":{"dtype":"I32","shape":[2],"data_offsets":[11,19]},' +
      '"d":{"dtype":"U8","shape":[],"data_offsets":[19,20]}}';
    expect(headerText.length).toBe(251);
    const expected = [
      // header length 256 = 251 rounded up to a multiple of 8, as a little-endian u64
      0x00, 0x01, 0, 0, 0, 0, 0, 0,
      ...Array.from(headerText, (ch) => ch.charCodeAt(0)), 0x20, 0x20, 0x20, 0x20, 0x20,
      // a: 1.5 = 0x3fc00000, -2 = 0xc0000000, little-endian
      0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0,
      // b: 1, -2, 3 as two's complement bytes
      0x01, 0xfe, 0x03,
      // c: 258 = 0x00000102, -1 = 0xffffffff
      0x02, 0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
      // d
      200,
    ];
    expect(Array.from(bytes)).toEqual(expected);
    for (const t of Object.values(tensors)) t.dispose();
  });

  test('padding: 53 header bytes get 3 spaces, 88 get none', () => {
    const t = tensor([5], [1], { dtype: 'uint8' });
    const base = '{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
    expect(base.length).toBe(53);
    const bytes = saveSafetensors({ x: t });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true))).toBe(56);
    expect(new TextDecoder().decode(bytes.subarray(8, 64))).toBe(base + '   ');
    expect(bytes.length).toBe(65);
    // Metadata {"k": 11 v's} makes the JSON exactly 88 bytes.
    const withMeta = saveSafetensors({ x: t }, { k: 'v'.repeat(11) });
    expect(Number(new DataView(withMeta.buffer).getBigUint64(0, true))).toBe(88);
    expect(new TextDecoder().decode(withMeta.subarray(8, 96))).toBe('{"__metadata__":{"k":"vvvvvvvvvvv"},' + base.slice(1));
    expect(withMeta[96]).toBe(5);
    t.dispose();
  });
});

describe('reading other dtypes', () => {
  function f16Oracle(h: number): number {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0x1f) return m ? NaN : s * Infinity;
    if (e === 0) return s * m * 2 ** -24;
    return s * (1 + m / 1024) * 2 ** (e - 15);
  }

  test('F16 converts exactly for all 65536 bit patterns', () => {
    const data = new Uint8Array(2 * 65536);
    const dv = new DataView(data.buffer);
    for (let h = 0; h < 65536; h++) dv.setUint16(2 * h, h, true);
    const r = parseSafetensors(buildFile(JSON.stringify({ h: entry('F16', [256, 256], 0, data.length) }), data));
    const t = r.tensors.h;
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([256, 256]);
    const got = t.dataSync() as Float32Array;
    const gotBits = new Uint32Array(got.buffer);
    const wrong: string[] = [];
    for (let h = 0; h < 65536; h++) {
      const want = f16Oracle(h);
      const ok = Number.isNaN(want) ? Number.isNaN(got[h]) && gotBits[h] === f16BitsToF32Bits(h) : Object.is(got[h], want);
      if (!ok) wrong.push(`0x${h.toString(16)} -> ${got[h]}, want ${want}`);
    }
    expect(wrong).toEqual([]);
    // NaN payloads survive: quiet NaN 0x7e00 -> 0x7fc00000, signalling-pattern 0x7c01 -> 0x7f802000.
    expect(gotBits[0x7e00]).toBe(0x7fc00000);
    expect(gotBits[0x7c01]).toBe(0x7f802000);
    disposeAll(r);
  });

  test('BF16, F64, I64, BOOL', () => {
    const bf = [0x3f80, 0xc000, 0x7f80, 0x0001, 0x8000, 0x4049];
    const f64 = [0.1, -1e300, 1e300, 2 ** -150, 1 + 2 ** -24, 1 + 2 ** -24 + 2 ** -40, -0];
    const i64 = [0n, -1n, 2147483647n, -2147483648n, 12345n];
    const bools = [0, 1, 1, 0];
    const data = new Uint8Array(bf.length * 2 + f64.length * 8 + i64.length * 8 + bools.length);
    const dv = new DataView(data.buffer);
    let p = 0;
    for (const v of bf) { dv.setUint16(p, v, true); p += 2; }
    const f64Begin = p;
    for (const v of f64) { dv.setFloat64(p, v, true); p += 8; }
    const i64Begin = p;
    for (const v of i64) { dv.setBigInt64(p, v, true); p += 8; }
    const boolBegin = p;
    for (const v of bools) data[p++] = v;
    const header = {
      bf: entry('BF16', [2, 3], 0, f64Begin),
      d: entry('F64', [7], f64Begin, i64Begin),
      l: entry('I64', [5, 1], i64Begin, boolBegin),
      m: entry('BOOL', [4], boolBegin, p),
    };
    const r = parseSafetensors(buildFile(JSON.stringify(header), data));
    expect(r.tensors.bf.dtype).toBe('float32');
    expect(r.tensors.bf.toArray()).toEqual([[1, -2, Infinity], [2 ** -133 * 1, -0, 3.140625]]);
    expect(Object.is((r.tensors.bf.dataSync() as Float32Array)[4], -0)).toBe(true);
    expect(r.tensors.d.dtype).toBe('float32');
    expect(Array.from(r.tensors.d.dataSync())).toEqual(f64.map((v) => Math.fround(v)));
    // 1 + 2^-24 is a tie between 1 and 1 + 2^-23: even wins (1); a hair above rounds up.
    expect(r.tensors.d.dataSync()[4]).toBe(1);
    expect(r.tensors.d.dataSync()[5]).toBe(1 + 2 ** -23);
    expect(r.tensors.l.dtype).toBe('int32');
    expect(r.tensors.l.toArray()).toEqual([[0], [-1], [2147483647], [-2147483648], [12345]]);
    expect(r.tensors.m.dtype).toBe('uint8');
    expect(r.tensors.m.toArray()).toEqual(bools);
    disposeAll(r);
  });

  test('I64 outside the int32 range and BOOL bytes other than 0/1 are rejected before anything is allocated', () => {
    for (const bad of [2147483648n, -2147483649n, 2n ** 62n, -(2n ** 63n)]) {
      const data = new Uint8Array(4 + 16);
      const dv = new DataView(data.buffer);
      dv.setBigInt64(4, 1n, true);
      dv.setBigInt64(12, bad, true);
      const file = buildFile(JSON.stringify({ a: entry('F32', [1], 0, 4), z: entry('I64', [2], 4, 20) }), data);
      expectRejected(file, new RegExp(`tensor "z" \\(I64\\) element 1 = ${bad} is outside the int32 range`));
    }
    const file = buildFile(JSON.stringify({ a: entry('F32', [1], 0, 4), m: entry('BOOL', [3], 4, 7) }), new Uint8Array([0, 0, 0, 0, 1, 0, 2]));
    expectRejected(file, /tensor "m" \(BOOL\) element 2 is 2, expected 0 or 1/);
  });
});

describe('hostile files are rejected with clear errors and nothing leaks', () => {
  const good = () => ({ a: entry('F32', [2], 0, 8), b: entry('U8', [3], 8, 11) });
  const data11 = new Uint8Array(11);

  test('the file is shorter than the length field', () => {
    expectRejected(new Uint8Array(0), /0 bytes long, shorter than the 8-byte header length/);
    expectRejected(new Uint8Array(7), /7 bytes long/);
  });

  test('huge header lengths are refused before decoding', () => {
    const f = new Uint8Array(64);
    const dv = new DataView(f.buffer);
    dv.setBigUint64(0, 2n ** 64n - 1n, true);
    expectRejected(f, /header length \d+ exceeds the limit of 104857600 bytes/);
    dv.setBigUint64(0, 100n * 1024n * 1024n + 1n, true);
    expectRejected(f, /header length 104857601 exceeds the limit/);
    dv.setBigUint64(0, 57n, true);
    expectRejected(f, /header length 57 runs past the end of the 64-byte file/);
  });

  test('the header is not UTF-8, not JSON, or not an object', () => {
    const notUtf8 = buildFile('{"a":1}');
    notUtf8[10] = 0xff;
    expectRejected(notUtf8, /not valid UTF-8/);
    expectRejected(buildFile('{"a": '), /not valid JSON/);
    expectRejected(buildFile('{}}'), /not valid JSON/);
    expectRejected(buildFile('[1, 2]'), /must be a JSON object starting with "\{"/);
    expectRejected(buildFile(' {}'), /starting with "\{"/);
    expectRejected(buildFile('null'), /starting with "\{"/);
    expectRejected(buildFile(''), /starting with "\{"/);
    // Deeply nested arrays must fail as bad input, not crash.
    expectRejected(buildFile('{"a":' + '['.repeat(200000) + ']'.repeat(200000) + '}'), /tensor "a" must be an object with dtype, shape and data_offsets, got an array of length 1/);
    expectRejected(buildFile('{"' + 'n'.repeat(1_000_000) + '":7}'), /tensor "n{60}\.\.\." must be an object/);
  });

  test('tensor entries with missing fields, wrong types or unknown fields', () => {
    const cases: [object, RegExp][] = [
      [{ a: 5 }, /tensor "a" must be an object with dtype, shape and data_offsets, got 5/],
      [{ a: [1] }, /tensor "a" must be an object/],
      [{ a: null }, /tensor "a" must be an object/],
      [{ a: { shape: [0], data_offsets: [0, 0] } }, /tensor "a" is missing the field "dtype"/],
      [{ a: { dtype: 'F32', data_offsets: [0, 0] } }, /tensor "a" is missing the field "shape"/],
      [{ a: { dtype: 'F32', shape: [0] } }, /tensor "a" is missing the field "data_offsets"/],
      [{ a: { dtype: 32, shape: [0], data_offsets: [0, 0] } }, /tensor "a": dtype must be a string, got 32/],
      [{ a: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, /tensor "a": shape must be an array of non-negative integers, got "2"/],
      [{ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, /shape must be an array of non-negative integers, got \[-2\]/],
      [{ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, /shape must be an array of non-negative integers/],
      [{ a: { dtype: 'F32', shape: [2 ** 53], data_offsets: [0, 8] } }, /shape must be an array of non-negative integers/],
      [{ a: { dtype: 'F32', shape: [null], data_offsets: [0, 8] } }, /shape must be an array of non-negative integers/],
      [{ a: { dtype: 'F32', shape: [1, 1, 1, 1, 1, 1, 1, 1, 1], data_offsets: [0, 4] } }, /tensor "a" has 9 dimensions; at most 8/],
      [{ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, /data_offsets must be \[begin, end\] with non-negative integers, got \[0\]/],
      [{ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, /data_offsets must be \[begin, end\]/],
      [{ a: { dtype: 'F32', shape: [1], data_offsets: ['0', '4'] } }, /data_offsets must be \[begin, end\]/],
      [{ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, /data_offsets must be \[begin, end\]/],
      [{ a: { dtype: 'F32', shape: [1], data_offsets: { 0: 0, 1: 4 } } }, /data_offsets must be \[begin, end\]/],
    ];
    for (const [header, re] of cases) expectRejected(buildFile(JSON.stringify(header), new Uint8Array(8)), re);
  });

  test('unknown and unsupported dtypes', () => {
    for (const dtype of ['F8_E4M3', 'U16', 'Q4_0', 'f32', '']) {
      expectRejected(buildFile(JSON.stringify({ a: entry(dtype, [1], 0, 1) }), new Uint8Array(1)),
        new RegExp(`tensor "a" has the unsupported dtype "${dtype}" \\(supported: F32, I32, I8, U8, F16, BF16, F64, I64, BOOL\\)`));
    }
  });

  test('offsets: end before begin, size not matching the shape, out of range, truncated', () => {
    expectRejected(buildFile(JSON.stringify({ a: entry('F32', [0], 8, 4) }), new Uint8Array(8)), /data_offsets end 4 is before begin 8/);
    expectRejected(buildFile(JSON.stringify({ a: entry('F32', [3], 0, 8) }), new Uint8Array(8)), /F32 \[3\] needs 12 bytes, but data_offsets \[0, 8\] span 8/);
    expectRejected(buildFile(JSON.stringify({ a: entry('U8', [2 ** 40], 0, 2 ** 40) }), new Uint8Array(8)), /truncated: tensor "a" needs data bytes \[0, 1099511627776\)/);
    expectRejected(buildFile(JSON.stringify({ a: entry('I32', [2 ** 20, 2 ** 20, 2 ** 10], 0, 2 ** 52 - 4) }), new Uint8Array(8)), /I32 \[1048576,1048576,1024\] needs 4503599627370496 bytes, but data_offsets \[0, 4503599627370492\] span/);
    expectRejected(buildFile(JSON.stringify({ a: entry('F32', [2 ** 40, 2 ** 40], 0, 0) }), new Uint8Array(8)), /needs \d.*bytes, but data_offsets \[0, 0\] span 0/);
    expectRejected(buildFile(JSON.stringify({ a: entry('F32', [1], 0, 2 ** 62) }), new Uint8Array(8)), /data_offsets must be \[begin, end\] with non-negative integers/);
    expectRejected(buildFile(JSON.stringify(good()), new Uint8Array(10)), /truncated: tensor "b" needs data bytes \[8, 11\) but the data section has 10 bytes/);
    const t = tensor([1, 2, 3]);
    const whole = saveSafetensors({ t });
    t.dispose();
    for (let cut = 1; cut <= 12; cut++) expectRejected(whole.subarray(0, whole.length - cut), /truncated|runs past|shorter|starting with/);
  });

  test('overlaps, gaps and trailing bytes', () => {
    expectRejected(buildFile(JSON.stringify({ a: entry('F32', [2], 0, 8), b: entry('U8', [3], 6, 9) }), new Uint8Array(9)),
      /tensor "b" \(data bytes \[6, 9\)\) overlaps tensor "a" \(ending at 8\)/);
    expectRejected(buildFile(JSON.stringify({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 0, 8) }), new Uint8Array(8)), /overlaps/);
    // A 0-sized tensor placed inside another one is an overlap too.
    expectRejected(buildFile(JSON.stringify({ a: entry('F32', [2], 0, 8), z: entry('F32', [0], 4, 4) }), new Uint8Array(8)), /tensor "z" .* overlaps tensor "a"/);
    expectRejected(buildFile(JSON.stringify({ a: entry('F32', [2], 4, 12) }), new Uint8Array(12)), /data bytes \[0, 4\) before tensor "a" belong to no tensor/);
    expectRejected(buildFile(JSON.stringify({ a: entry('F32', [1], 0, 4), b: entry('U8', [3], 8, 11) }), data11), /data bytes \[4, 8\) before tensor "b" belong to no tensor/);
    expectRejected(buildFile(JSON.stringify(good()), new Uint8Array(12)), /1 trailing data bytes after the last tensor/);
    expectRejected(buildFile('{}', new Uint8Array(3)), /3 trailing data bytes/);
    // Boundary cases that are valid: 0-sized tensors at the start, between tensors and at the end.
    const ok = parseSafetensors(buildFile(JSON.stringify({
      z0: entry('F32', [0], 0, 0), a: entry('F32', [2], 0, 8), z1: entry('I8', [0, 5], 8, 8), b: entry('U8', [3], 8, 11), z2: entry('U8', [0], 11, 11),
    }), data11));
    expect(Object.keys(ok.tensors).sort()).toEqual(['a', 'b', 'z0', 'z1', 'z2']);
    expect(ok.tensors.z1.shape).toEqual([0, 5]);
    disposeAll(ok);
  });

  test('duplicate names and duplicate fields', () => {
    expectRejected(buildFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)),
      /the key "a" more than once/);
    // The same name spelled with a JSON escape is still the same name.
    expectRejected(buildFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', new Uint8Array(2)),
      /the key "a" more than once/);
    expectRejected(buildFile('{"a":{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)), /the key "dtype" more than once/);
    expectRejected(buildFile('{"__metadata__":{"k":"1","k":"2"}}'), /the key "k" more than once/);
  });

  test('bad metadata', () => {
    expectRejected(buildFile('{"__metadata__":["x"]}'), /"__metadata__" must be an object of strings/);
    expectRejected(buildFile('{"__metadata__":"x"}'), /"__metadata__" must be an object of strings/);
    expectRejected(buildFile('{"__metadata__":{"k":1}}'), /"__metadata__"\["k"\] must be a string, got 1/);
    expectRejected(buildFile('{"__metadata__":{"k":{"n":"1"}}}'), /"__metadata__"\["k"\] must be a string/);
  });

  test('a failure after earlier tensors were valid leaves memory as it was', () => {
    const names: Record<string, object> = {};
    const data = new Uint8Array(100 * 16 + 8);
    for (let i = 0; i < 100; i++) names[`t${String(i).padStart(3, '0')}`] = entry('F32', [4], 16 * i, 16 * i + 16);
    names.zz = entry('I64', [1], 1600, 1608);
    new DataView(data.buffer).setBigInt64(1600, 2n ** 40n, true);
    expectRejected(buildFile(JSON.stringify(names), data), /outside the int32 range/);
  });
});

test('findDuplicateKey walks nested objects, arrays and escaped strings', () => {
  expect(findDuplicateKey('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}')).toBe(null);
  expect(findDuplicateKey('{"a":"x\\"y","b":["a","a"],"a\\"":{}}')).toBe(null);
  expect(findDuplicateKey('{"x":{"q":1,"r":[1,{"s":1,"s":2}]}}')).toBe('s');
  expect(findDuplicateKey('{"k\\\\":1,"k\\u005c":2}')).toBe('k\\');
});

describe('saveSafetensors argument checks', () => {
  test('bad arguments name what was expected', () => {
    const t = tensor([1]);
    expect(() => saveSafetensors(null as any)).toThrow(/saveSafetensors: tensors must be an object mapping names to tensors, got null/);
    expect(() => saveSafetensors([t] as any)).toThrow(/tensors must be an object/);
    expect(() => saveSafetensors(t as any)).toThrow(/tensors must be an object/);
    expect(() => saveSafetensors({ w: [1, 2] as any })).toThrow(/saveSafetensors: tensors\["w"\] must be a Tensor, got \[1, 2\]/);
    expect(() => saveSafetensors({ __metadata__: t })).toThrow(/"__metadata__" is reserved/);
    expect(() => saveSafetensors({ t }, { k: 1 as any })).toThrow(/saveSafetensors: metadata\["k"\] must be a string, got 1/);
    expect(() => saveSafetensors({ t }, 'x' as any)).toThrow(/metadata must be an object of strings/);
    const gone = tensor([2]);
    gone.dispose();
    expect(() => saveSafetensors({ t, gone })).toThrow(/saveSafetensors: tensors\["gone"\] \(tensor #\d+\) was disposed/);
    t.dispose();
  });

  test('parseSafetensors rejects non-bytes', () => {
    expect(() => parseSafetensors('abc' as any)).toThrow(/parseSafetensors: bytes must be a Uint8Array or ArrayBuffer, got "abc"/);
  });
});

describe('loadSafetensors sources', () => {
  test('path, file: URL, URL string, ArrayBuffer, Response and Promise<Response>', async () => {
    const w = tensor([1, 2, 3, 4], [2, 2]);
    const bytes = saveSafetensors({ w }, { epoch: '3' });
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, bytes);
    const sources = [
      path,
      pathToFileURL(path),
      pathToFileURL(path).href,
      bytes.slice().buffer,
      new Response(bytes),
      Promise.resolve(new Response(bytes)),
    ];
    for (const source of sources) {
      const r = await loadSafetensors(source as any);
      expect(r.metadata).toEqual({ epoch: '3' });
      expect(r.tensors.w.toArray()).toEqual([[1, 2], [3, 4]]);
      disposeAll(r);
    }
    w.dispose();
  });

  test('missing files and failed responses name the source', async () => {
    const missing = join(dir, 'nope.safetensors');
    await expect(loadSafetensors(missing)).rejects.toThrow(`loadSafetensors: file ${missing} does not exist`);
    await expect(loadSafetensors(new Response('x', { status: 500 }))).rejects.toThrow(/loadSafetensors: Response answered HTTP 500/);
    await expect(loadSafetensors(42 as any)).rejects.toThrow(/loadSafetensors: source must be a Uint8Array, ArrayBuffer, Response, URL or path string, got 42/);
    const path = join(dir, 'bad.safetensors');
    writeFileSync(path, buildFile('{"a":1}'));
    await expect(loadSafetensors(path)).rejects.toThrow(`loadSafetensors: ${path} is not a valid safetensors file: tensor "a" must be an object`);
  });
});
