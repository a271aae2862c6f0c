import { rt } from '../runtime/context.js';
import { checkNumber, describe } from '../tensor/checks.js';
import { boolOption, readOptions } from '../tensor/options.js';

/**
 * Where bytes come from: the bytes themselves, a fetch Response (or a promise
 * of one), a URL, or a string that is a URL ("https://...", "file:///...") or
 * a file path (relative paths resolve against the working directory in Node
 * and Deno, against the page in a browser).
 *
 * Nothing is fetched unless the caller names an http(s) URL: paths and file:
 * URLs are read from the file system (Node, Deno); fetch() serves the rest.
 */
export type ByteSource = Uint8Array | ArrayBuffer | ArrayBufferView | Response | PromiseLike<Response> | URL | string;

/** A location that can be read: a parsed URL, or a file path kept as given. */
export type Location = { kind: 'url'; url: URL } | { kind: 'path'; path: string };

/** gzip member header: ID1 ID2 (RFC 1952). */
const GZIP_MAGIC = [0x1f, 0x8b];
/** Decompressed data beyond this is refused by default (a gzip bomb stops here, not at out-of-memory); pass maxBytes to allow more. */
export const MAX_DECOMPRESSED_BYTES = 2 ** 28;
/** Default compression-ratio limit: beyond RATIO_FLOOR_BYTES of output, more than this many output bytes per input byte is refused. */
export const MAX_COMPRESSION_RATIO = 200;
/** Outputs up to this size are never refused for their ratio (small runs of zeros compress ~1000:1 legitimately). */
export const RATIO_FLOOR_BYTES = 2 ** 24;
/** Compressed input is fed to the decompressor in slices this big, so no runtime inflates more than one slice ahead of the limit checks. */
const INFLATE_SLICE_BYTES = 64 * 1024;

/** Limits on decompression (every reader that gunzips takes them). */
export interface GunzipLimits {
  /** Most decompressed bytes (default MAX_DECOMPRESSED_BYTES = 256 MiB). */
  maxBytes?: number;
  /** Most output bytes per compressed byte once the output passes 16 MiB (default MAX_COMPRESSION_RATIO = 200). */
  maxRatio?: number;
}

/** Checked limits, with defaults. */
export function readLimits(o: GunzipLimits, op: string): Required<GunzipLimits> {
  return {
    maxBytes: checkNumber(o.maxBytes ?? MAX_DECOMPRESSED_BYTES, op, 'maxBytes', { integer: true, min: 0, max: 2 ** 32 }),
    maxRatio: checkNumber(o.maxRatio ?? MAX_COMPRESSION_RATIO, op, 'maxRatio', { min: 1 }),
  };
}

/**
 * What the decompressed data may hold, decided from its first bytes (a file
 * header): the exact size it must have, or undefined while more bytes are
 * needed to tell. It may throw to refuse the data.
 */
export type SizeFromHead = (head: Uint8Array, complete: boolean) => number | undefined;

/** Thrown when a file or URL does not exist, so callers can try another name. */
export class NotFoundError extends Error {}

export interface ReadBytesOptions extends GunzipLimits {
  /** Decompress gzip data (found by its magic bytes), within maxBytes and maxRatio. Default false. */
  gunzip?: boolean;
}

/** Reads all bytes of a source; with `gunzip: true`, gzip data (found by its magic bytes) is decompressed. */
export async function readBytes(source: ByteSource, options: ReadBytesOptions | null = {}): Promise<Uint8Array> {
  const o = readOptions<ReadBytesOptions>(options, 'readBytes');
  const unzip = boolOption(o.gunzip, 'readBytes', 'gunzip', false);
  const limits = readLimits(o, 'readBytes');
  const { bytes, name } = await readSource(source, 'readBytes');
  return unzip ? maybeGunzip(bytes, name, 'readBytes', limits) : bytes;
}

/** Reads a source and returns its bytes with a name for error messages (path, URL or "bytes"). */
export async function readSource(source: ByteSource, op: string): Promise<{ bytes: Uint8Array; name: string }> {
  if (source instanceof Uint8Array) return { bytes: source, name: 'bytes' };
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), name: 'bytes' };
  if (ArrayBuffer.isView(source)) return { bytes: new Uint8Array(source.buffer, source.byteOffset, source.byteLength), name: 'bytes' };
  if (typeof source === 'string' || source instanceof URL) {
    const loc = toLocation(source, op);
    return { bytes: await readLocation(loc, op), name: locationName(loc) };
  }
  if (isResponseLike(source) || isThenable(source)) {
    const response = await source;
    if (!isResponseLike(response)) throw new Error(`${op}: source promise resolved to ${describe(response)}, expected a Response`);
    const name = response.url || 'Response';
    if (!response.ok) throw new Error(`${op}: ${name} answered HTTP ${response.status}`);
    return { bytes: new Uint8Array(await response.arrayBuffer()), name };
  }
  throw new Error(`${op}: source must be a Uint8Array, ArrayBuffer, Response, URL or path string, got ${describe(source)}`);
}

/** Parses a string as a URL when it has a scheme, otherwise keeps it as a file path. */
export function toLocation(source: string | URL, op: string): Location {
  if (source instanceof URL) return { kind: 'url', url: source };
  if (typeof source !== 'string' || source.length === 0) throw new Error(`${op}: path must be a non-empty string, got ${describe(source)}`);
  // "C:\data" is a Windows path, not a URL with scheme "c:".
  if (/^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(source)) {
    try {
      return { kind: 'url', url: new URL(source) };
    } catch {
      throw new Error(`${op}: "${source}" looks like a URL but does not parse as one`);
    }
  }
  return { kind: 'path', path: source };
}

/** The location of `name` inside the folder `dir`. */
export function childLocation(dir: Location, name: string): Location {
  if (dir.kind === 'url') {
    const base = new URL(dir.url.href);
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    return { kind: 'url', url: new URL(name, base) };
  }
  const sep = /[\\/]$/.test(dir.path) ? '' : '/';
  return { kind: 'path', path: dir.path + sep + name };
}

export function locationName(loc: Location): string {
  return loc.kind === 'url' ? loc.url.href : loc.path;
}

/** Reads a location; a missing file or an HTTP 404 throws NotFoundError. */
export async function readLocation(loc: Location, op: string): Promise<Uint8Array> {
  const name = locationName(loc);
  const g = globalThis as any;
  const isFile = loc.kind === 'path' || loc.url.protocol === 'file:';
  if (isFile && typeof g.Deno?.readFile === 'function') {
    try {
      return await g.Deno.readFile(loc.kind === 'url' ? loc.url : loc.path);
    } catch (err) {
      throw fileError(err, op, name);
    }
  }
  if (isFile && g.process?.versions?.node) {
    // Node's fetch does not read file: URLs.
    const fs = await import('node:fs/promises');
    try {
      return await fs.readFile(loc.kind === 'url' ? loc.url : loc.path);
    } catch (err) {
      throw fileError(err, op, name);
    }
  }
  let url: URL;
  if (loc.kind === 'url') url = loc.url;
  else {
    const base = g.location?.href;
    if (typeof base !== 'string') {
      throw new Error(`${op}: cannot read the path "${loc.path}": this runtime has no file system and no page URL to resolve it against; pass an absolute http(s) URL or the bytes`);
    }
    url = new URL(loc.path, base);
  }
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`${op}: fetching ${url.href} failed: ${messageOf(err)}`);
  }
  if (response.status === 404) throw new NotFoundError(`${op}: ${url.href} was not found (HTTP 404)`);
  if (!response.ok) throw new Error(`${op}: fetching ${url.href} failed with HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function fileError(err: unknown, op: string, name: string): Error {
  const e = err as any;
  if (e?.code === 'ENOENT' || e?.name === 'NotFound') return new NotFoundError(`${op}: file ${name} does not exist`);
  return new Error(`${op}: cannot read ${name}: ${messageOf(err)}`);
}

export function messageOf(err: unknown): string {
  return String((err as Error)?.message ?? err);
}

function isResponseLike(x: unknown): x is Response {
  return typeof x === 'object' && x !== null && typeof (x as Response).arrayBuffer === 'function' && typeof (x as Response).status === 'number';
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as PromiseLike<unknown>).then === 'function';
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

export interface GunzipOptions extends GunzipLimits {
  /** Names the data in error messages (default "bytes"). */
  name?: string;
}

/**
 * Decompresses gzip data (one or more members) with the platform's
 * DecompressionStream (Node 18+, Deno, browsers, workerd). Corrupt or
 * truncated input, trailing bytes that are not another member, or output
 * beyond `maxBytes` (default 256 MiB) or `maxRatio` (default 200 output bytes
 * per input byte, once past 16 MiB) throws an Error naming `name`; the
 * decompression stops as soon as a limit is passed.
 */
export function gunzip(bytes: Uint8Array, options: GunzipOptions | null = {}): Promise<Uint8Array> {
  const o = readOptions<GunzipOptions>(options, 'gunzip');
  if (o.name !== undefined && typeof o.name !== 'string') throw new Error(`gunzip: name must be a string, got ${describe(o.name)}`);
  return inflate(bytes, o.name ?? 'bytes', 'gunzip', readLimits(o, 'gunzip'));
}

async function inflate(bytes: Uint8Array, name: string, op: string, limits: Required<GunzipLimits>, sizeFromHead?: SizeFromHead): Promise<Uint8Array> {
  if (!(bytes instanceof Uint8Array)) throw new Error(`${op}: bytes must be a Uint8Array, got ${describe(bytes)}`);
  if (!isGzip(bytes)) throw new Error(`${op}: ${name} is not gzip data (expected the bytes 1f 8b at the start)`);
  if (typeof DecompressionStream !== 'function') throw new Error(`${op}: this runtime has no DecompressionStream, so ${name} cannot be decompressed`);
  // Streams refuse views of a SharedArrayBuffer (a shared wasm memory): copy those.
  const src = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
  let fed = 0;
  // Fed one slice per pull: the decompressor never holds more input than the reader has asked output for.
  const input = new ReadableStream<BufferSource>({
    pull(controller) {
      if (fed >= src.length) {
        controller.close();
        return;
      }
      controller.enqueue(src.subarray(fed, fed + INFLATE_SLICE_BYTES));
      fed = Math.min(src.length, fed + INFLATE_SLICE_BYTES);
    },
  }, { highWaterMark: 0 });
  const reader = input.pipeThrough(new DecompressionStream('gzip')).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let expected: number | undefined;
  const refuse = async (why: string): Promise<never> => {
    await reader.cancel().catch(() => {});
    throw new Error(`${op}: ${name} ${why}`);
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      chunks.push(value);
      if (sizeFromHead !== undefined && expected === undefined) {
        expected = sizeFromHead(total === value.length ? value : concat(chunks, total), false);
        if (expected !== undefined && expected > limits.maxBytes) {
          await refuse(`declares ${expected} bytes of data in its header, more than maxBytes = ${limits.maxBytes}; pass a larger maxBytes if the file is trusted`);
        }
      }
      if (expected !== undefined && total > expected) await refuse(`decompresses to more than the ${expected} bytes its header declares`);
      if (total > limits.maxBytes) await refuse(`decompresses to more than ${limits.maxBytes} bytes (maxBytes); pass a larger maxBytes if the file is trusted`);
      if (total > RATIO_FLOOR_BYTES && total > limits.maxRatio * src.length) {
        await refuse(`decompresses to more than ${limits.maxRatio} bytes per compressed byte (maxRatio), like a decompression bomb; pass a larger maxRatio if the file is trusted`);
      }
    }
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(`${op}: `)) throw err;
    throw new Error(`${op}: ${name} is corrupt or truncated gzip data: ${messageOf(err)}`);
  }
  if (sizeFromHead !== undefined && expected === undefined) sizeFromHead(concat(chunks, total), true);
  return concat(chunks, total);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/**
 * Decompresses when the bytes start with the gzip magic, else returns them
 * unchanged. `sizeFromHead` caps the output at the size a file header declares.
 */
export async function maybeGunzip(bytes: Uint8Array, name: string, op: string, limits: Required<GunzipLimits> = readLimits({}, op), sizeFromHead?: SizeFromHead): Promise<Uint8Array> {
  return isGzip(bytes) ? inflate(bytes, name, op, limits, sizeFromHead) : bytes;
}

/** Copies bytes that live in the wasm memory itself: allocating the tensors may grow, and so detach, that buffer. */
export function outsideWasmMemory(bytes: Uint8Array): Uint8Array {
  return bytes.buffer === rt().memory.buffer ? bytes.slice() : bytes;
}
