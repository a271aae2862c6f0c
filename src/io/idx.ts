import { checkNumber, describe } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import type { DType } from '../tensor/dtypes.js';
import { empty, rawF32, rawI32, rawView, type Tensor } from '../tensor/tensor.js';
import { maybeGunzip, outsideWasmMemory, readLimits, readSource, type ByteSource, type GunzipLimits, type SizeFromHead } from './source.js';

/**
 * IDX (the MNIST file format): two zero bytes, a type code, the number of
 * dimensions, that many big-endian int32 sizes, then the values big-endian,
 * row-major. Type codes and the dtype each becomes:
 *   0x08 uint8   -> uint8
 *   0x09 int8    -> int8
 *   0x0B int16   -> int32   (exact; snapgrad has no 16-bit dtype)
 *   0x0C int32   -> int32
 *   0x0D float32 -> float32
 *   0x0E float64 -> float32 (rounded to nearest, ties to even; beyond the float32 range -> ±Infinity)
 * The file must be exactly header + data: truncated files and trailing bytes
 * are both rejected, since either means the header does not describe the file.
 */
const TYPES: Record<number, { name: string; size: number; dtype: DType }> = {
  0x08: { name: 'uint8', size: 1, dtype: 'uint8' },
  0x09: { name: 'int8', size: 1, dtype: 'int8' },
  0x0b: { name: 'int16', size: 2, dtype: 'int32' },
  0x0c: { name: 'int32', size: 4, dtype: 'int32' },
  0x0d: { name: 'float32', size: 4, dtype: 'float32' },
  0x0e: { name: 'float64', size: 8, dtype: 'float32' },
};

const MAX_DIMS = 8;

export interface IdxOptions {
  /** Keep only the first `limit` entries along the first dimension (the whole file is still validated). */
  limit?: number;
}

/**
 * loadIdx options: a gzipped file is decompressed only up to the size its IDX
 * header declares, and that size must fit in maxBytes (default 256 MiB).
 */
export interface LoadIdxOptions extends IdxOptions, GunzipLimits {}

export interface IdxHeader {
  /** The IDX type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64). */
  typeCode: number;
  /** The IDX element type name ('uint8', 'int16', ...). */
  type: string;
  /** The tensor dtype the values become. */
  dtype: DType;
  shape: number[];
  /** Header size in bytes (4 + 4 * number of dimensions). */
  headerBytes: number;
}

/** Reads an IDX file (gzipped or not, detected by its magic bytes) into a tensor. */
export async function loadIdx(source: ByteSource, options: LoadIdxOptions | null = {}): Promise<Tensor> {
  const o = readOptions<LoadIdxOptions>(options, 'loadIdx');
  const limit = o.limit === undefined ? undefined : checkNumber(o.limit, 'loadIdx', 'limit', { integer: true, min: 0 });
  const limits = readLimits(o, 'loadIdx');
  const { bytes, name } = await readSource(source, 'loadIdx');
  return parseIdxAs(await maybeGunzip(bytes, name, 'loadIdx', limits, idxSizeFromHead(name, 'loadIdx')), name, limit, 'loadIdx');
}

/**
 * The decompression cap of a gzipped IDX file: its header declares the exact
 * size, so a bomb is refused after at most 36 bytes of output, and data past
 * the declared size stops the decompression at once.
 */
export function idxSizeFromHead(name: string, op: string): SizeFromHead {
  return (head, complete) => {
    const fail = (what: string): never => {
      throw new Error(`${op}: ${name} is not a valid IDX file: ${what}`);
    };
    if (head.length < 4) return complete ? fail(`it is ${head.length} bytes long, shorter than the 4-byte magic number`) : undefined;
    if (head[0] !== 0 || head[1] !== 0) fail(`the magic number must start with two zero bytes, got ${hex(head[0])} ${hex(head[1])}`);
    const type = TYPES[head[2]];
    if (type === undefined) fail(`unknown type code ${hex(head[2])} (expected 08 uint8, 09 int8, 0b int16, 0c int32, 0d float32 or 0e float64)`);
    const ndims = head[3];
    if (ndims < 1 || ndims > MAX_DIMS) fail(`the number of dimensions must be 1..${MAX_DIMS}, got ${ndims}`);
    const headerBytes = 4 + 4 * ndims;
    if (head.length < headerBytes) return complete ? fail(`the header needs ${headerBytes} bytes for ${ndims} dimensions, but the file has ${head.length}`) : undefined;
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    let count = 1;
    for (let i = 0; i < ndims; i++) {
      const d = dv.getInt32(4 + 4 * i, false);
      if (d < 0) fail(`dimension ${i} is negative (${d})`);
      count *= d;
    }
    // Past 2^53 the product is inexact, but it is then far beyond any maxBytes too.
    return headerBytes + count * type.size;
  };
}

/** Parses the bytes of an uncompressed IDX file into a tensor. `name` labels error messages. */
export function parseIdx(bytes: Uint8Array, options: (IdxOptions & { name?: string }) | null = {}): Tensor {
  const o = readOptions<IdxOptions & { name?: string }>(options, 'parseIdx');
  const name = o.name ?? 'bytes';
  if (typeof name !== 'string') throw new Error(`parseIdx: name must be a string, got ${describe(name)}`);
  const limit = o.limit === undefined ? undefined : checkNumber(o.limit, 'parseIdx', 'limit', { integer: true, min: 0 });
  return parseIdxAs(bytes, name, limit, 'parseIdx');
}

/** parseIdx with errors named after the public function that was called (`op`). */
export function parseIdxAs(bytes: Uint8Array, name: string, limit: number | undefined, op: string): Tensor {
  const header = parseIdxHeader(bytes, name, op);
  bytes = outsideWasmMemory(bytes);
  const [n0, ...rest] = header.shape;
  const rows = limit === undefined ? n0 : Math.min(n0, limit);
  const shape = [rows, ...rest];
  let count = rows;
  for (const d of rest) count *= d;
  const data = bytes.subarray(header.headerBytes);
  const out = empty(shape, header.dtype);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  // Views are made after the allocation above and used before anything else allocates.
  switch (header.typeCode) {
    case 0x08: (rawView(out) as Uint8Array).set(data.subarray(0, count)); break;
    case 0x09: (rawView(out) as Int8Array).set(new Int8Array(data.buffer, data.byteOffset, count)); break;
    case 0x0b: {
      const v = rawI32(out);
      for (let i = 0; i < count; i++) v[i] = dv.getInt16(2 * i, false);
      break;
    }
    case 0x0c: {
      const v = rawI32(out);
      for (let i = 0; i < count; i++) v[i] = dv.getInt32(4 * i, false);
      break;
    }
    case 0x0d: {
      const v = rawF32(out);
      for (let i = 0; i < count; i++) v[i] = dv.getFloat32(4 * i, false);
      break;
    }
    default: {
      const v = rawF32(out);
      for (let i = 0; i < count; i++) v[i] = dv.getFloat64(8 * i, false);
    }
  }
  return out;
}

/** Validates an IDX header against the file length and returns it. */
export function parseIdxHeader(bytes: Uint8Array, name: string | null = 'bytes', op = 'parseIdxHeader'): IdxHeader {
  if (name === null) name = 'bytes';
  if (typeof name !== 'string') throw new Error(`${op}: name must be a string, got ${describe(name)}`);
  const fail = (what: string): never => {
    throw new Error(`${op}: ${name} is not a valid IDX file: ${what}`);
  };
  if (!(bytes instanceof Uint8Array)) throw new Error(`${op}: bytes must be a Uint8Array, got ${describe(bytes)}`);
  if (bytes.length < 4) fail(`it is ${bytes.length} bytes long, shorter than the 4-byte magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`the magic number must start with two zero bytes, got ${hex(bytes[0])} ${hex(bytes[1])}` +
      (bytes[0] === 0x1f && bytes[1] === 0x8b ? ' (this is gzip data; loadIdx decompresses it, parseIdx does not)' : ''));
  }
  const typeCode = bytes[2];
  const type = TYPES[typeCode];
  if (type === undefined) fail(`unknown type code ${hex(typeCode)} (expected 08 uint8, 09 int8, 0b int16, 0c int32, 0d float32 or 0e float64)`);
  const ndims = bytes[3];
  if (ndims < 1 || ndims > MAX_DIMS) fail(`the number of dimensions must be 1..${MAX_DIMS}, got ${ndims}`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) fail(`the header needs ${headerBytes} bytes for ${ndims} dimensions, but the file has ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = dv.getInt32(4 + 4 * i, false);
    if (d < 0) fail(`dimension ${i} is negative (${d})`);
    shape.push(d);
    count *= d;
  }
  // count is exact: it is compared with the file length only while below 2^53.
  const dataBytes = count * type.size;
  const have = bytes.length - headerBytes;
  if (have < dataBytes) fail(`truncated: the header [${shape}] of ${type.name} needs ${dataBytes} data bytes, the file has ${have}`);
  if (have > dataBytes) fail(`${have - dataBytes} trailing bytes after the ${dataBytes} data bytes the header [${shape}] of ${type.name} describes`);
  return { typeCode, type: type.name, dtype: type.dtype, shape, headerBytes };
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
