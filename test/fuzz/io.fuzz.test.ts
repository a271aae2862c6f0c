// Byte-level fuzzing of the readers: safetensors (the shipped model and small
// files made here), IDX (real MNIST and small files) and gzip streams, each
// against an independent reference reader written in this file (and node:zlib).
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe } from 'vitest';
import * as sg from '../../src/index.js';
import { applyMutations, DTYPES, hostile, make, mutations, shape, tensorOf } from './arbitraries.js';
import { expectClose, free, prop, runCase, useRuntime } from './oracle.js';

useRuntime();

const root = new URL('../../', import.meta.url);
const MODEL = new Uint8Array(readFileSync(new URL('examples/cloudflare-worker/model.safetensors', root)));
const MNIST_LABELS_GZ = new Uint8Array(readFileSync(new URL('examples/data/mnist/t10k-labels-idx1-ubyte.gz', root)));
const MNIST_LABELS = new Uint8Array(gunzipSync(MNIST_LABELS_GZ));

// ---- reference safetensors reader ------------------------------------------

const SIZES: Record<string, number> = { F32: 4, I32: 4, I8: 1, U8: 1, F16: 2, BF16: 2, F64: 8, I64: 8, BOOL: 1 };
const EXACT: Record<string, string> = { F32: 'float32', I32: 'int32', I8: 'int8', U8: 'uint8' };
type RefTensor = { dtype: string; shape: number[]; values: number[] | null };
type RefResult = { ok: true; tensors: Record<string, RefTensor>; metadata: Record<string, string>; certain: boolean } | { ok: false; certain: boolean };

/** The safetensors rules as documented in src/io/safetensors.ts, written independently. */
function refSafetensors(b: Uint8Array): RefResult {
  const no = { ok: false as const, certain: true };
  if (b.length < 8) return no;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (n > 100 * 1024 * 1024 || 8 + n > b.length || n < 2 || b[8] !== 0x7b) return no;
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(8, 8 + n));
    header = JSON.parse(text);
  } catch {
    return no;
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return no;
  const data = b.subarray(8 + n);
  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  let certain = true;
  for (const [name, e] of Object.entries(header as Record<string, any>)) {
    if (name === '__metadata__') {
      if (e === null || typeof e !== 'object' || Array.isArray(e) || !Object.values(e).every((v) => typeof v === 'string')) return no;
      metadata = e;
      continue;
    }
    if (e === null || typeof e !== 'object' || Array.isArray(e)) return no;
    const { dtype, shape: s, data_offsets: off } = e;
    if (typeof dtype !== 'string' || !(dtype in SIZES)) return no;
    if (!Array.isArray(s) || s.length > 8 || !s.every((d) => Number.isInteger(d) && d >= 0)) return no;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[1] < off[0]) return no;
    const count = s.reduce((a: number, d: number) => a * d, 1);
    if (off[1] - off[0] !== count * SIZES[dtype]) return no;
    if (!EXACT[dtype]) certain = false;
    entries.push({ name, dtype, shape: s, begin: off[0], end: off[1] });
  }
  entries.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let at = 0;
  for (const e of entries) {
    if (e.begin !== at) return no;
    at = e.end;
  }
  if (at !== data.length) return no;
  const tensors: Record<string, RefTensor> = {};
  for (const e of entries) {
    const bytes = data.slice(e.begin, e.end);
    const values = !EXACT[e.dtype] ? null : e.dtype === 'F32' ? Array.from(new Float32Array(bytes.buffer)) : e.dtype === 'I32' ? Array.from(new Int32Array(bytes.buffer)) : e.dtype === 'I8' ? Array.from(new Int8Array(bytes.buffer)) : Array.from(bytes);
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, values };
  }
  return { ok: true, tensors, metadata, certain };
}

function checkAgainstRef(got: sg.io.Safetensors, ref: RefResult & { ok: true }): void {
  const names = Object.keys(got.tensors).sort();
  if (names.join('\u0000') !== Object.keys(ref.tensors).sort().join('\u0000')) throw new Error(`safetensors: tensor names ${JSON.stringify(names)} differ from the reference ${JSON.stringify(Object.keys(ref.tensors))}`);
  for (const name of names) {
    const t = got.tensors[name];
    const r = ref.tensors[name];
    if (t.shape.join() !== r.shape.join()) throw new Error(`safetensors: ${name} has shape [${t.shape}], reference [${r.shape}]`);
    if (r.values) {
      if (t.dtype !== EXACT[r.dtype]) throw new Error(`safetensors: ${name} is ${t.dtype}, stored ${r.dtype}`);
      expectClose(Array.from(t.dataSync()), r.values, `safetensors ${name}`, { signedZero: true });
    }
  }
  if (JSON.stringify(got.metadata) !== JSON.stringify(ref.metadata)) throw new Error('safetensors: metadata differs from the reference');
}

const SAFE_FNS = ['loadSafetensors', 'parseSafetensors'];

describe('safetensors', () => {
  const smallFile = fc.record({
    specs: fc.array(tensorOf(shape({ maxRank: 3, maxDim: 4, maxSize: 24 }), fc.constantFrom(...DTYPES)), { maxLength: 3 }),
    metadata: fc.oneof(fc.constant(undefined), fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 8 }), { maxKeys: 2 })),
  });

  prop(['sg.io.parseSafetensors', 'sg.io.loadSafetensors'], 'mutated safetensors bytes (shipped model and small files): exactly the tensors an independent reader finds, or a clear error', fc.record({
    base: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: smallFile }), muts: mutations(0.3), viaLoad: fc.boolean(), asBuffer: fc.boolean(),
  }), async ({ base, muts, viaLoad, asBuffer }) => {
    let bytes: Uint8Array = MODEL;
    if (base) {
      const ts = base.specs.map((s) => make(s));
      bytes = sg.io.saveSafetensors(Object.fromEntries(ts.map((t, i) => [`t${i}`, t])), base.metadata);
      free(ts);
    }
    const mutated = applyMutations(bytes, muts);
    const ref = refSafetensors(mutated);
    const arg = asBuffer ? (mutated.buffer.slice(mutated.byteOffset, mutated.byteOffset + mutated.byteLength) as ArrayBuffer) : mutated;
    await runCase(() => (viaLoad ? sg.io.loadSafetensors(arg) : sg.io.parseSafetensors(arg)), {
      fn: SAFE_FNS, expect: ref.ok ? (ref.certain ? 'ok' : 'either') : 'error',
      check: (got) => checkAgainstRef(got, ref as RefResult & { ok: true }),
    });
  }, 3);

  prop(['sg.io.saveSafetensors'], 'saveSafetensors round-trips tensors of every dtype (aliases and views included) from an object or a Map of names; non-tensors, disposed tensors, bad metadata are clear errors', fc.record({
    specs: fc.array(tensorOf(shape({ maxRank: 3, maxDim: 4, maxSize: 24 }), fc.constantFrom(...DTYPES)), { maxLength: 4 }), form: fc.constantFrom('object', 'object', 'object', 'map', 'null', 'array', 'hostileValue', 'disposed', 'alias'),
    metadata: fc.oneof(fc.constant(undefined), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }), fc.constant({ n: 1 }), hostile), bad: hostile,
  }), async ({ specs, form, metadata, bad }) => {
    const ts = specs.map((s) => make(s));
    const entries = ts.map((t, i) => [`w${i}`, t] as [string, sg.Tensor]);
    if (form === 'alias' && ts.length) entries.push(['again', ts[0]]);
    const dead = sg.tensor([1]); dead.dispose();
    const arg: unknown = form === 'map' ? new Map(entries) : form === 'null' ? null : form === 'array' ? ts : form === 'hostileValue' ? { ...Object.fromEntries(entries), bad } : form === 'disposed' ? { ...Object.fromEntries(entries), dead } : Object.fromEntries(entries);
    // Documented: tensors and metadata may be plain objects or Maps with string keys; null metadata means none.
    const plain = (m: unknown): m is object => m !== null && typeof m === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(m));
    const metaOk = metadata === undefined || metadata === null
      || (metadata instanceof Map && [...metadata].every(([k, v]) => typeof k === 'string' && typeof v === 'string'))
      || (plain(metadata) && Object.values(metadata).every((v) => typeof v === 'string'));
    const ok = (form === 'object' || form === 'alias' || form === 'map') && metaOk;
    await runCase(() => sg.io.saveSafetensors(arg as any, metadata as any), {
      fn: 'saveSafetensors', expect: ok ? 'ok' : form === 'array' && ts.length === 0 ? 'either' : 'error', state: ts,
      check: (bytes) => {
        const ref = refSafetensors(bytes);
        if (!ref.ok) throw new Error('saveSafetensors wrote a file the reference reader rejects');
        const want = Object.fromEntries(entries);
        for (const [name, t] of Object.entries(want)) {
          const r = ref.tensors[name];
          if (!r || r.shape.join() !== t.shape.join()) throw new Error(`saveSafetensors: ${name} missing or misshapen`);
          expectClose(r.values!, Array.from(t.dataSync()), `saveSafetensors ${name}`, { signedZero: true });
        }
        if (Object.keys(ref.tensors).length !== Object.keys(want).length) throw new Error('saveSafetensors: extra tensors');
      },
    });
    free(ts);
  });
});

// ---- reference IDX reader ------------------------------------------------------

const IDX_TYPES: Record<number, [number, (dv: DataView, o: number) => number]> = {
  0x08: [1, (d, o) => d.getUint8(o)], 0x09: [1, (d, o) => d.getInt8(o)], 0x0b: [2, (d, o) => d.getInt16(o)],
  0x0c: [4, (d, o) => d.getInt32(o)], 0x0d: [4, (d, o) => d.getFloat32(o)], 0x0e: [8, (d, o) => Math.fround(d.getFloat64(o))],
};

function refIdx(b: Uint8Array): { shape: number[]; values: number[] } | null {
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0 || !(b[2] in IDX_TYPES) || b[3] < 1 || b[3] > 8) return null;
  const nd = b[3];
  if (b.length < 4 + 4 * nd) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const s = Array.from({ length: nd }, (_, i) => dv.getInt32(4 + 4 * i));
  if (s.some((d) => d < 0)) return null;
  const [size, read] = IDX_TYPES[b[2]];
  const count = s.reduce((a, d) => a * d, 1);
  if (b.length - 4 - 4 * nd !== count * size) return null;
  return { shape: s, values: Array.from({ length: count }, (_, i) => read(dv, 4 + 4 * nd + i * size)) };
}

function makeIdx(code: number, s: number[], values: number[]): Uint8Array {
  const [size] = IDX_TYPES[code];
  const out = new Uint8Array(4 + 4 * s.length + values.length * size);
  const dv = new DataView(out.buffer);
  out[2] = code; out[3] = s.length;
  s.forEach((d, i) => dv.setInt32(4 + 4 * i, d));
  values.forEach((v, i) => {
    const o = 4 + 4 * s.length + i * size;
    if (code === 0x08) dv.setUint8(o, v & 255); else if (code === 0x09) dv.setInt8(o, v); else if (code === 0x0b) dv.setInt16(o, v); else if (code === 0x0c) dv.setInt32(o, v); else if (code === 0x0d) dv.setFloat32(o, v); else dv.setFloat64(o, v);
  });
  return out;
}

const IDX_FNS = ['loadIdx', 'parseIdx', 'parseIdxHeader'];
const idxFile = fc.record({ code: fc.constantFrom(0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e), s: shape({ minRank: 1, maxRank: 3, maxDim: 5, maxSize: 40 }), seed: fc.integer({ min: 0, max: 999 }) })
  .map(({ code, s, seed }) => makeIdx(code, s, Array.from({ length: s.reduce((a, d) => a * d, 1) }, (_, i) => ((i * 37 + seed) % 200) - 100)));

describe('IDX and gzip', () => {
  prop(['sg.io.parseIdx', 'sg.io.parseIdxHeader', 'sg.io.loadIdx'], 'mutated IDX files (small ones of every type, real MNIST labels; raw or gzipped): the reference reader\'s tensor, or a clear error; limit checked', fc.record({
    file: fc.oneof({ weight: 3, arbitrary: idxFile }, { weight: 1, arbitrary: fc.constant(MNIST_LABELS) }), muts: fc.oneof(fc.constant([]), mutations(0.02)), gz: fc.boolean(), limit: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 12 }), hostile), which: fc.constantFrom('parse', 'header', 'load', 'loadNullOpts'),
  }), async ({ file, muts, gz, limit, which }) => {
    const mutated = applyMutations(file, muts);
    const ref = refIdx(mutated);
    // A null limit (or null options) means no limit.
    const limitOk = limit === undefined || limit === null || (Number.isInteger(limit) && (limit as number) >= 0);
    const src = gz && which.startsWith('load') ? gzipSync(mutated) : mutated;
    const call = (): unknown => which === 'parse' ? sg.io.parseIdx(mutated, { limit: limit as number }) : which === 'header' ? sg.io.parseIdxHeader(mutated) : sg.io.loadIdx(src, which === 'loadNullOpts' ? (null as any) : { limit: limit as number });
    const usesLimit = which === 'parse' || which === 'load';
    await runCase(call as () => Promise<any>, {
      fn: IDX_FNS, expect: ref && (!usesLimit || limitOk) ? (which === 'loadNullOpts' ? 'either' : 'ok') : 'error',
      check: (r: any) => {
        if (which === 'header') { if (r.shape.join() !== ref!.shape.join()) throw new Error(`parseIdxHeader: shape [${r.shape}], reference [${ref!.shape}]`); return; }
        const rows = usesLimit && limit !== undefined && limit !== null ? Math.min(ref!.shape[0], limit as number) : ref!.shape[0];
        const t = r as sg.Tensor;
        if (t.shape.join() !== [rows, ...ref!.shape.slice(1)].join()) throw new Error(`IDX: shape [${t.shape}], want [${[rows, ...ref!.shape.slice(1)]}]`);
        expectClose(Array.from(t.dataSync()), ref!.values.slice(0, t.size), 'IDX values', { signedZero: true });
      },
    });
  }, 2);

  prop(['sg.io.gunzip', 'sg.io.isGzip', 'sg.io.readBytes'], 'mutated gzip streams decompress exactly as node:zlib does, or fail clearly; maxBytes and bombs are bounded', fc.record({
    base: fc.oneof(fc.constant(MNIST_LABELS_GZ), fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array(gzipSync(b))), fc.constant(new Uint8Array(gzipSync(new Uint8Array(3_000_000))))),
    muts: fc.oneof(fc.constant([]), mutations(0.05)), which: fc.constantFrom('gunzip', 'readBytes', 'readBytesRaw', 'isGzip'), maxBytes: fc.oneof(fc.constant(undefined), fc.constantFrom(0, 100, 20_000, 2_000_000), hostile), opts: fc.constantFrom('bag', 'bag', 'null'),
  }), async ({ base, muts, which, maxBytes, opts }) => {
    const mutated = applyMutations(base, muts);
    let want: Uint8Array | null = null;
    try { want = new Uint8Array(gunzipSync(mutated)); } catch { want = null; }
    const magic = mutated.length >= 2 && mutated[0] === 0x1f && mutated[1] === 0x8b;
    const o: unknown = opts === 'null' ? null : which === 'gunzip' ? { maxBytes } : which === 'readBytes' ? { gunzip: true, maxBytes } : {};
    // null options mean the defaults: gunzip's default limits, and readBytes without gunzip (bytes passed through).
    const mb = opts === 'null' ? undefined : maxBytes;
    const noMax = mb === undefined || mb === null;
    // maxBytes is bounded (2^32: gzip records sizes mod 2^32, and one array holds no more portably).
    const maxOk = noMax || (Number.isInteger(mb) && (mb as number) >= 0 && (mb as number) <= 2 ** 32);
    const inflating = which === 'gunzip' || (which === 'readBytes' && opts !== 'null');
    const fits = want !== null && (noMax || !maxOk || want.length <= (mb as number));
    let expectKind: 'ok' | 'error' | 'either';
    if (which === 'isGzip' || !inflating) expectKind = 'ok';
    else if (!maxOk) expectKind = 'error';
    else if (which === 'readBytes' && !magic) expectKind = 'ok';
    else if (!magic) expectKind = 'error';
    else if (want === null) expectKind = 'either';
    else expectKind = fits ? 'ok' : 'error';
    const started = Date.now();
    await runCase(async () => which === 'isGzip' ? sg.io.isGzip(mutated) : which === 'gunzip' ? sg.io.gunzip(mutated, o as any) : sg.io.readBytes(mutated, o as any), {
      fn: which === 'readBytesRaw' ? 'readBytes' : which, expect: expectKind,
      check: (r: any) => {
        if (which === 'isGzip') { if (r !== magic) throw new Error(`isGzip: ${r}, want ${magic}`); return; }
        // readBytes passes data without the gzip magic through unchanged.
        const expected = !inflating || (which === 'readBytes' && !magic) ? mutated : want;
        if (!expected) return;
        if (!(r instanceof Uint8Array) || r.length !== expected.length || r.some((v: number, i: number) => v !== expected[i])) throw new Error(`${which}: output differs from node:zlib (${r?.length} vs ${expected.length} bytes)`);
      },
    });
    if (Date.now() - started > 5000) throw new Error(`${which} took ${Date.now() - started} ms`);
  }, 2);

  prop(['sg.io.loadIdx', 'sg.io.readBytes'], 'a small gzip that inflates far past what the IDX header implies is refused quickly, leaking nothing', fc.record({ extra: fc.constantFrom(1_000_000, 4_000_000), rows: fc.integer({ min: 0, max: 5 }) }), async ({ extra, rows }) => {
    const idx = makeIdx(0x08, [rows], new Array(rows).fill(7));
    const bomb = new Uint8Array(gzipSync(Uint8Array.from([...idx, ...new Uint8Array(extra)]), { level: 9 }));
    const started = Date.now();
    await runCase(() => sg.io.loadIdx(bomb), { fn: IDX_FNS, expect: 'error' });
    const ms = Date.now() - started;
    if (ms > 1500) throw new Error(`loadIdx took ${ms} ms to refuse a ${bomb.length}-byte gzip (the header implies ${rows} bytes of data)`);
  }, 0.1);
});

describe('loadMnist', () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
  prop(['sg.io.loadMnist'], 'loadMnist on folders of small (mutated, gzipped or not) IDX files, missing files and hostile arguments: the four tensors or a clear error', fc.record({
    n: fc.integer({ min: 0, max: 4 }), corrupt: fc.constantFrom('none', 'none', 'labelsCount', 'missing', 'mutate'), gz: fc.boolean(), muts: mutations(0.1), dirArg: fc.constantFrom('dir', 'dir', 'dir', 'hostile', 'nowhere'), bad: hostile,
    options: fc.oneof(fc.constant(undefined), fc.record({ limitTrain: fc.oneof(fc.integer({ min: 0, max: 3 }), hostile), limitTest: fc.integer({ min: 0, max: 3 }) }, { requiredKeys: [] }), fc.constant(null)),
  }), async ({ n, corrupt, gz, muts, dirArg, bad, options }) => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-fuzz-mnist-'));
    dirs.push(dir);
    const files: Record<string, Uint8Array> = {
      'train-images-idx3-ubyte': makeIdx(0x08, [n, 2, 2], new Array(n * 4).fill(0).map((_, i) => i)),
      'train-labels-idx1-ubyte': makeIdx(0x08, [corrupt === 'labelsCount' ? n + 1 : n], new Array(corrupt === 'labelsCount' ? n + 1 : n).fill(3)),
      't10k-images-idx3-ubyte': makeIdx(0x08, [n, 2, 2], new Array(n * 4).fill(9)),
      't10k-labels-idx1-ubyte': makeIdx(0x08, [n], new Array(n).fill(1)),
    };
    if (corrupt === 'mutate') files['t10k-images-idx3-ubyte'] = applyMutations(files['t10k-images-idx3-ubyte'], muts);
    for (const [name, bytes] of Object.entries(files)) {
      if (corrupt === 'missing' && name.startsWith('t10k-labels')) continue;
      writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
    }
    const mutatedOk = corrupt !== 'mutate' || (() => { const r = refIdx(files['t10k-images-idx3-ubyte']); return r !== null && r.shape[0] === n && r.shape.length === 3; })();
    const o = options as Record<string, unknown> | null | undefined;
    // null options (or option fields) mean the defaults.
    const limOk = o === undefined || o === null || [o.limitTrain, o.limitTest].every((v) => v === undefined || v === null || (Number.isInteger(v) && (v as number) >= 0));
    const ok = dirArg === 'dir' && (corrupt === 'none' || (corrupt === 'mutate' && mutatedOk)) && limOk;
    const arg = dirArg === 'dir' ? dir : dirArg === 'nowhere' ? join(dir, 'nope') : bad;
    await runCase(() => sg.io.loadMnist(arg as string, o as any), {
      // A missing (undefined or null) dir means the bundled copy of MNIST, which a checkout may or may not hold.
      fn: ['loadMnist', 'loadIdx'], expect: ok ? 'ok' : corrupt === 'mutate' && dirArg === 'dir' && limOk ? 'either' : dirArg === 'hostile' && (bad === undefined || bad === null) && limOk ? 'either' : 'error',
      check: (m) => {
        if (arg === undefined || arg === null) return;
        const lt = o && Number.isInteger(o.limitTrain) ? Math.min(n, o.limitTrain as number) : n;
        if (m.trainImages.shape.join() !== [lt, 2, 2].join() || m.trainLabels.shape[0] !== lt) throw new Error(`loadMnist: train shapes [${m.trainImages.shape}] / [${m.trainLabels.shape}]`);
        expectClose(Array.from(m.trainImages.dataSync()), Array.from({ length: lt * 4 }, (_, i) => i), 'trainImages');
      },
    });
  }, 0.6);
});


