import { checkTensor, describe } from '../tensor/checks.js';
import { bytesPerElement, type DType } from '../tensor/dtypes.js';
import { empty, rawBytes, rawF32, rawI32, Tensor } from '../tensor/tensor.js';
import { outsideWasmMemory, readSource, type ByteSource } from './source.js';

/**
 * safetensors: an 8-byte little-endian u64 header length N, N bytes of UTF-8
 * JSON, then the data section. The header maps each tensor name to
 * {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets into the
 * data section) and may hold "__metadata__": {string: string}. It starts with
 * "{" and may be padded with spaces; the writer pads it so the data section
 * starts at a multiple of 8.
 *
 * The reader accepts a file only if the tensors tile the data section exactly:
 * sorted by offset, each begins where the previous ends, the first at 0 and
 * the last at the end of the file. Gaps, overlaps, truncated data and
 * trailing bytes are all rejected (as the reference implementation does), so
 * every byte of an accepted file is accounted for.
 *
 * Other fields in a tensor entry are ignored, as the reference implementation does.
 *
 * Stored dtype -> tensor dtype:
 *   F32 -> float32, I32 -> int32, I8 -> int8, U8 -> uint8 (bytes copied as they are)
 *   F16, BF16 -> float32 (exact, NaN payloads kept in the high bits)
 *   F64 -> float32 (rounded to nearest, ties to even; beyond the float32 range -> ±Infinity)
 *   I64 -> int32 (every value must lie in the int32 range, else the file is rejected)
 *   BOOL -> uint8 (every byte must be 0 or 1)
 */

/** Header lengths above this are rejected before anything is decoded. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const METADATA_KEY = '__metadata__';
const MAX_RANK = 8;
/** Most tensors in one file (each becomes a tensor record; real checkpoints hold thousands). */
export const MAX_TENSORS = 2 ** 20;
/** Largest dimension (kernels index with 32-bit integers). */
const MAX_DIM = 2 ** 31 - 1;

const STORED: Record<string, { size: number; dtype: DType }> = {
  F32: { size: 4, dtype: 'float32' },
  I32: { size: 4, dtype: 'int32' },
  I8: { size: 1, dtype: 'int8' },
  U8: { size: 1, dtype: 'uint8' },
  F16: { size: 2, dtype: 'float32' },
  BF16: { size: 2, dtype: 'float32' },
  F64: { size: 8, dtype: 'float32' },
  I64: { size: 8, dtype: 'int32' },
  BOOL: { size: 1, dtype: 'uint8' },
};

const WRITTEN: Record<DType, string> = { float32: 'F32', int32: 'I32', int8: 'I8', uint8: 'U8' };

export interface Safetensors {
  tensors: Record<string, Tensor>;
  /** The "__metadata__" map ({} when the file has none). */
  metadata: Record<string, string>;
}

/**
 * Serializes tensors (and optional string metadata) to safetensors bytes.
 * Tensors are stored contiguously in name order (JavaScript's default sort,
 * by UTF-16 code units) as F32 / I32 / I8 / U8.
 */
export function saveSafetensors(tensors: Record<string, Tensor> | Map<string, Tensor>, metadata?: Record<string, string> | Map<string, string> | null): Uint8Array {
  const op = 'saveSafetensors';
  tensors = fromMap(tensors, op, 'tensors') as Record<string, Tensor>;
  if (!isPlainObject(tensors)) {
    throw new Error(`${op}: tensors must be an object mapping names to tensors, got ${describe(tensors)}; pass model.stateDict() or a Map from names to tensors`);
  }
  // Written field by field: a JS object would list integer-like names first, whatever their order.
  const fields: string[] = [];
  if (metadata !== undefined && metadata !== null) {
    metadata = fromMap(metadata, op, 'metadata') as Record<string, string>;
    if (!isPlainObject(metadata)) {
      throw new Error(`${op}: metadata must be an object of strings (or a Map), got ${describe(metadata)}`);
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`${op}: metadata[${quote(k)}] must be a string, got ${describe(v)}`);
    }
    if (Object.keys(metadata).length > 0) fields.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  const names = Object.keys(tensors).sort();
  const list: Tensor[] = [];
  let pos = 0;
  for (const name of names) {
    if (name === METADATA_KEY) throw new Error(`${op}: "${METADATA_KEY}" is reserved for metadata and cannot name a tensor`);
    const t = checkTensor(tensors[name], op, `tensors[${quote(name)}]`);
    const bytes = t.size * bytesPerElement(t.dtype);
    fields.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: WRITTEN[t.dtype], shape: t.shape, data_offsets: [pos, pos + bytes] })}`);
    list.push(t);
    pos += bytes;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const total = 8 + headerLength + pos;
  let out: Uint8Array;
  try {
    out = new Uint8Array(total);
  } catch {
    throw new Error(`${op}: the file would be ${total} bytes, more than this runtime can hold in one array`);
  }
  const dv = new DataView(out.buffer);
  dv.setUint32(0, headerLength % 2 ** 32, true);
  dv.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of list) {
    // Wasm memory is little-endian, which is what the format stores.
    const data = rawBytes(t);
    out.set(data, at);
    at += data.length;
  }
  return out;
}

/** An object literal (or one made with Object.create(null)): a Set, an array or a tensor would silently write nothing. */
function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** A Map with string keys becomes a plain object (names like "__proto__" included); anything else is returned as it is. */
function fromMap(x: unknown, op: string, arg: string): unknown {
  if (!(x instanceof Map)) return x;
  const out: Record<string, unknown> = {};
  for (const [k, v] of x) {
    if (typeof k !== 'string') throw new Error(`${op}: the keys of ${arg} must be strings, got ${describe(k)}`);
    setOwn(out, k, v);
  }
  return out;
}

/** Reads safetensors from bytes, a Response, a URL or a path. */
export async function loadSafetensors(source: ByteSource): Promise<Safetensors> {
  const { bytes, name } = await readSource(source, 'loadSafetensors');
  return parse(bytes, name, 'loadSafetensors');
}

interface Entry {
  name: string;
  stored: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses safetensors bytes. Everything is validated before any tensor is allocated. */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer, name: string | null = 'bytes'): Safetensors {
  if (name !== null && typeof name !== 'string') throw new Error(`parseSafetensors: name must be a string, got ${describe(name)}`);
  return parse(bytes, name ?? 'bytes', 'parseSafetensors');
}

function parse(bytes: Uint8Array | ArrayBuffer, name: string, op: string): Safetensors {
  const fail = (what: string): never => {
    throw new Error(`${op}: ${name} is not a valid safetensors file: ${what}`);
  };
  if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
  if (!(bytes instanceof Uint8Array)) throw new Error(`${op}: bytes must be a Uint8Array or ArrayBuffer, got ${describe(bytes)}`);
  if (bytes.length < 8) fail(`it is ${bytes.length} bytes long, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (headerLength > MAX_HEADER_BYTES) fail(`the header length ${headerLength} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  if (8 + headerLength > bytes.length) fail(`the header length ${headerLength} runs past the end of the ${bytes.length}-byte file`);
  if (headerLength < 2 || bytes[8] !== 0x7b) fail(`the header must be a JSON object starting with "{"`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    return fail('the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return fail(`the header is not valid JSON (${String((err as Error)?.message ?? err)})`);
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== null) fail(`the header has the key ${quote(duplicate)} more than once`);

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === METADATA_KEY) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`"${METADATA_KEY}" must be an object of strings`);
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) {
        if (typeof mv !== 'string') fail(`"${METADATA_KEY}"[${quote(mk)}] must be a string, got ${show(mv)}`);
        setOwn(metadata, mk, mv as string);
      }
      continue;
    }
    if (entries.length === MAX_TENSORS) fail(`it holds more than ${MAX_TENSORS} tensors`);
    entries.push(parseEntry(key, value, fail));
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  for (const e of entries) {
    if (e.end > dataLength) {
      fail(`truncated: tensor ${quote(e.name)} needs data bytes [${e.begin}, ${e.end}) but the data section has ${dataLength} bytes`);
    }
  }
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i];
    if (e.begin > covered) fail(`data bytes [${covered}, ${e.begin}) before tensor ${quote(e.name)} belong to no tensor`);
    if (e.begin < covered) fail(`tensor ${quote(e.name)} (data bytes [${e.begin}, ${e.end})) overlaps tensor ${quote(sorted[i - 1].name)} (ending at ${covered})`);
    covered = e.end;
  }
  if (covered < dataLength) fail(`${dataLength - covered} trailing data bytes after the last tensor belong to no tensor`);

  for (const e of entries) validateValues(bytes, dataStart, e, fail);

  bytes = outsideWasmMemory(bytes);
  const tensors: Record<string, Tensor> = {};
  const made: Tensor[] = [];
  try {
    for (const e of entries) {
      const t = empty(e.shape, STORED[e.stored].dtype);
      made.push(t);
      fillTensor(t, bytes, dataStart, e);
      setOwn(tensors, e.name, t);
    }
  } catch (err) {
    for (const t of made) t.dispose();
    throw err;
  }
  return { tensors, metadata };
}

/** Defines a property even for names like "__proto__", which plain assignment would treat as the prototype. */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function parseEntry(name: string, value: unknown, fail: (what: string) => never): Entry {
  const where = `tensor ${quote(name)}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${where} must be an object with dtype, shape and data_offsets, got ${show(value)}`);
  const v = value as Record<string, unknown>;
  for (const k of ['dtype', 'shape', 'data_offsets']) {
    if (!(k in v)) fail(`${where} is missing the field "${k}"`);
  }
  const stored = v.dtype;
  if (typeof stored !== 'string') return fail(`${where}: dtype must be a string, got ${show(stored)}`);
  if (!Object.prototype.hasOwnProperty.call(STORED, stored)) {
    fail(`${where} has the unsupported dtype ${quote(stored)} (supported: ${Object.keys(STORED).join(', ')})`);
  }
  const shape = v.shape;
  if (!Array.isArray(shape) || shape.some((d) => !isIndex(d))) {
    return fail(`${where}: shape must be an array of non-negative integers, got ${show(shape)}`);
  }
  if (shape.length > MAX_RANK) fail(`${where} has ${shape.length} dimensions; at most ${MAX_RANK} are supported`);
  const offsets = v.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    return fail(`${where}: data_offsets must be [begin, end] with non-negative integers, got ${show(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) fail(`${where}: data_offsets end ${end} is before begin ${begin}`);
  let count = 1;
  for (const d of shape as number[]) count *= d;
  // Only an empty tensor can name a huge dimension without the data to back it.
  if (count === 0 && (shape as number[]).some((d) => d > MAX_DIM)) fail(`${where}: shape ${show(shape)} has a dimension above ${MAX_DIM}`);
  const want = count * STORED[stored].size;
  if (end - begin !== want) {
    fail(`${where}: ${stored} [${shape}] needs ${want} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, stored, shape: shape as number[], begin, end };
}

/**
 * Describes a value read from a file for an error message, briefly: a hostile
 * header can hold huge strings or arrays nested deeper than the stack.
 */
function show(x: unknown): string {
  if (Array.isArray(x)) {
    const flat = x.length <= 8 && x.every((v) => v === null || typeof v !== 'object');
    return flat ? `[${x.map(show).join(', ')}]` : `an array of length ${x.length}`;
  }
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  if (typeof x === 'string') return quote(x);
  return String(x);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);
}

function isIndex(x: unknown): boolean {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Checks values that have no counterpart in the target dtype, so a bad file fails before anything is allocated. */
function validateValues(bytes: Uint8Array, dataStart: number, e: Entry, fail: (what: string) => never): void {
  const start = dataStart + e.begin;
  if (e.stored === 'I64') {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + start, e.end - e.begin);
    for (let i = 0; i < (e.end - e.begin) / 8; i++) {
      const lo = dv.getUint32(8 * i, true);
      const hi = dv.getInt32(8 * i + 4, true);
      // In int32 range exactly when the high word is the sign extension of the low word.
      if (hi !== (lo | 0) >> 31) {
        fail(`tensor ${quote(e.name)} (I64) element ${i} = ${dv.getBigInt64(8 * i, true)} is outside the int32 range`);
      }
    }
  } else if (e.stored === 'BOOL') {
    for (let i = start; i < dataStart + e.end; i++) {
      if (bytes[i] > 1) fail(`tensor ${quote(e.name)} (BOOL) element ${i - start} is ${bytes[i]}, expected 0 or 1`);
    }
  }
}

/** The raw bits of a float32 tensor's elements, to write converted half floats into. */
function f32Bits(t: Tensor): Uint32Array {
  const v = rawF32(t);
  return new Uint32Array(v.buffer, v.byteOffset, v.length);
}

/** Copies or converts one tensor's data into wasm memory (views made after the tensor was allocated). */
function fillTensor(t: Tensor, bytes: Uint8Array, dataStart: number, e: Entry): void {
  const src = bytes.subarray(dataStart + e.begin, dataStart + e.end);
  const n = t.size;
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  switch (e.stored) {
    case 'F32': case 'I32': case 'I8': case 'U8': case 'BOOL':
      rawBytes(t).set(src);
      return;
    case 'F16': {
      const out = f32Bits(t);
      for (let i = 0; i < n; i++) out[i] = f16BitsToF32Bits(dv.getUint16(2 * i, true));
      return;
    }
    case 'BF16': {
      const out = f32Bits(t);
      for (let i = 0; i < n; i++) out[i] = dv.getUint16(2 * i, true) << 16;
      return;
    }
    case 'F64': {
      const out = rawF32(t);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return;
    }
    case 'I64': {
      const out = rawI32(t);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(8 * i, true);
      return;
    }
  }
}

/** IEEE binary16 -> binary32 bit pattern (exact: every half value is a float). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal half: normalize the mantissa into a float32 normal.
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/**
 * Returns the first key that occurs twice in one JSON object, or null.
 * JSON.parse keeps the last of duplicate keys silently, which would let a file
 * say two different things about one tensor. `text` must already be valid JSON.
 */
export function findDuplicateKey(text: string): string | null {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.has(key)) return key;
        top.add(key);
      }
      expectKey = false;
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] !== null;
    }
  }
  return null;
}
