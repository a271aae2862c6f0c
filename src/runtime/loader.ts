import { instantiate } from '@assemblyscript/loader';
import { WASM_FUNCTION_EXPORTS, type WasmExports } from './abi.generated.js';
import { Allocator } from './allocator.js';
import { isInitialized, rt, setRuntime } from './context.js';
import { detectRuntime, hasSimd, type RuntimeName } from './environment.js';
import { ARG_BLOCK_BYTES } from './views.js';
import { checkNumber, describe } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';

export type WasmSource = BufferSource | URL | string | Response | PromiseLike<Response>;

export interface InitOptions {
  /** A compiled module (required in Cloudflare Workers: import the .wasm file). */
  module?: WebAssembly.Module;
  /** The wasm as bytes, a URL/path, or a fetch Response. */
  wasm?: WasmSource;
  /** Initial size of the shared memory in bytes (rounded up to 64 KiB pages). Default 16 MiB. */
  initialMemoryBytes?: number;
}

export interface Info {
  runtime: RuntimeName;
  build: string;
  simd: boolean;
  threads: boolean;
  memoryBytes: number;
}

const WASM_FILE = 'snapgrad.simd.wasm';
/** What to do in Cloudflare Workers (workerd), which compile no wasm at run time: only modules bundled with the Worker run. */
const WORKERS_HINT =
  "Import the .wasm file as a module and pass it: import wasm from 'snapgrad/wasm'; await init({ module: wasm }) " +
  "(wrangler compiles *.wasm imports by default; in Miniflare add modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }]).";
const BUILD = 'simd128';

let pending: Promise<Info> | null = null;

/** Loads and instantiates the kernels. Safe to call more than once. */
export function init(options: InitOptions | null = {}): Promise<Info> {
  try {
    options = checkInitOptions(options);
  } catch (err) {
    return Promise.reject(err);
  }
  if (isInitialized()) return Promise.resolve(info());
  if (pending === null) {
    pending = doInit(options).catch((err) => {
      pending = null;
      throw err;
    });
  }
  return pending;
}

const WASM_KINDS = 'bytes (an ArrayBuffer or Uint8Array), a URL or path string, a Response, or a Promise of a Response';

/** Checks the options' types before anything is fetched or compiled; null (or a null field) means the default. */
function checkInitOptions(options: unknown): InitOptions {
  const o = readOptions<InitOptions>(options, 'init');
  const w = o.wasm as unknown;
  if (w !== undefined && typeof w !== 'string' && !(w instanceof URL) && !isBufferSource(w) && !isResponseLike(w) && !isThenable(w)) {
    throw new Error(`init: options.wasm must be ${WASM_KINDS}, got ${describe(w)}`);
  }
  if (o.initialMemoryBytes !== undefined) {
    checkNumber(o.initialMemoryBytes, 'init', 'options.initialMemoryBytes', { integer: true, min: 0, max: 2 ** 32 - 65536 });
  }
  return o;
}

function isResponseLike(x: unknown): boolean {
  return typeof Response !== 'undefined' && x instanceof Response;
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && typeof x === 'object' && typeof (x as { then?: unknown }).then === 'function';
}

async function doInit(options: InitOptions): Promise<Info> {
  if (!hasSimd()) {
    throw new Error('snapgrad needs WebAssembly SIMD (128-bit), which this runtime does not support');
  }
  const runtime = detectRuntime();
  if (options.module !== undefined && !(options.module instanceof WebAssembly.Module)) {
    throw new Error(
      `init: options.module must be a WebAssembly.Module, got ${describe(options.module)}` +
      (runtime === 'workerd' ? '; import the .wasm with the CompiledWasm module rule (wrangler\'s default for *.wasm), not as Data or Text' : '; pass bytes, a URL or a Response as options.wasm instead'),
    );
  }
  const source = options.module ?? (options.wasm !== undefined ? await resolveSource(options.wasm, runtime) : await defaultSource(runtime));
  const pages = Math.max(1, Math.ceil((options.initialMemoryBytes ?? 16 * 2 ** 20) / 65536));
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
  let result;
  try {
    result = await instantiate(source as any, { env: { memory } });
  } catch (err) {
    const msg = String((err as Error)?.message ?? err);
    if (/code generation disallowed/i.test(msg)) {
      throw new Error(`init: this runtime cannot compile WebAssembly from bytes or a Response (Cloudflare Workers run only wasm modules bundled with the Worker). ${WORKERS_HINT} Original error: ${msg}`);
    }
    if (err instanceof WebAssembly.CompileError) {
      throw new Error(`init: options.wasm is not a valid WebAssembly module (${msg}); pass the bytes of dist/${WASM_FILE} (or omit options.wasm to load it from next to the module)`);
    }
    if (err instanceof WebAssembly.LinkError) {
      throw new Error(`init: the wasm module does not match this version of snapgrad (${msg}); pass dist/${WASM_FILE} from the same package version`);
    }
    throw err;
  }
  // The loader wraps exports for its string/array helpers; the kernels take
  // only numbers, so the raw exports are called directly (no per-call wrapper).
  const exportsFound = result.instance.exports as Record<string, unknown>;
  const missing = WASM_FUNCTION_EXPORTS.filter((name) => typeof exportsFound[name] !== 'function');
  if (missing.length > 0) {
    throw new Error(`init: the wasm module does not match this version of snapgrad (it lacks ${missing.length} of the kernels, e.g. ${missing.slice(0, 3).join(', ')}); pass dist/${WASM_FILE} from the same package version`);
  }
  const kernels = result.instance.exports as unknown as WasmExports;
  const allocator = new Allocator(memory, kernels.heap_base());
  const argBlock = allocator.alloc(ARG_BLOCK_BYTES);
  setRuntime({ kernels, memory, allocator, runtime, build: BUILD, argBlock });
  return info();
}

async function resolveSource(wasm: WasmSource, runtime: RuntimeName): Promise<BufferSource | Response | WebAssembly.Module> {
  if (typeof wasm === 'string' || wasm instanceof URL) {
    const url = wasm instanceof URL ? wasm : toUrl(wasm);
    try {
      if (url.protocol === 'file:' && runtime === 'node') return await readNodeFile(url);
      return await fetchWasm(url);
    } catch (err) {
      const msg = String((err as Error)?.message ?? err);
      if (msg.startsWith('init:')) throw err;
      throw new Error(`init: could not load options.wasm from ${url.href} (${msg}); pass the path or URL of dist/${WASM_FILE}, or its bytes`);
    }
  }
  // WebAssembly.compile takes ArrayBuffers and typed arrays but not every view (a DataView): pass the bytes as a Uint8Array.
  if (ArrayBuffer.isView(wasm)) return new Uint8Array(wasm.buffer, wasm.byteOffset, wasm.byteLength);
  if (isBufferSource(wasm)) return wasm;
  const response: unknown = await wasm;
  if (!isResponseLike(response)) throw new Error(`init: options.wasm resolved to ${describe(response)}; a Promise passed as options.wasm must resolve to a Response (e.g. fetch(url))`);
  const r = response as Response;
  if (!r.ok) throw new Error(`init: fetching the wasm failed with HTTP ${r.status}${r.url ? ` (${r.url})` : ''}`);
  return r;
}

function toUrl(path: string): URL {
  try {
    return new URL(path);
  } catch {
    const g = globalThis as any;
    const base = g.location?.href ?? (g.process?.cwd ? `file://${g.process.cwd()}/` : undefined);
    if (!base) throw new Error(`init: wasm path "${path}" is relative and there is no base URL to resolve it against`);
    return new URL(path, base);
  }
}

function isBufferSource(x: unknown): x is BufferSource {
  return x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

async function fetchWasm(url: URL): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`init: fetching ${url.href} failed with HTTP ${response.status}`);
  // instantiateStreaming needs the application/wasm type; fall back to bytes otherwise.
  if (!/application\/wasm/.test(response.headers.get('content-type') ?? '')) {
    return new Response(await response.arrayBuffer(), { headers: { 'content-type': 'application/wasm' } });
  }
  return response;
}

async function readNodeFile(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  const fs = await import('node:fs/promises');
  return fs.readFile(url);
}

/**
 * Finds the wasm next to this module: dist/ in the package, or ../../dist when
 * run from src/. The first URL is written as a literal so that bundlers which
 * understand `new URL('./file', import.meta.url)` (Vite, webpack 5) ship the
 * wasm as an asset. Resolved here, not at module load: in workerd
 * import.meta.url is undefined.
 */
async function defaultSource(runtime: RuntimeName): Promise<BufferSource | Response> {
  if (runtime === 'workerd') {
    throw new Error(`init: in Cloudflare Workers init() needs the wasm module, which cannot be fetched or compiled at run time there. ${WORKERS_HINT}`);
  }
  const here = import.meta.url;
  if (!here) throw new Error('init: cannot locate the wasm file (this runtime gives modules no import.meta.url); pass init({ wasm }) or init({ module })');
  const fromSource = '../../dist/' + WASM_FILE;
  const candidates = [new URL('./snapgrad.simd.wasm', import.meta.url), new URL(fromSource, here)];
  let lastError: unknown = null;
  for (const url of candidates) {
    try {
      if (url.protocol === 'file:' && runtime === 'node') return await readNodeFile(url);
      return await fetchWasm(url);
    } catch (err) {
      lastError = err;
    }
  }
  const hint = runtime === 'deno' && /NotCapable|PermissionDenied|allow-read/.test(String(lastError)) ? ' (Deno needs --allow-read to read it)' : '';
  throw new Error(`init: could not load ${WASM_FILE} next to the module${hint} (${candidates.map((u) => u.href).join(', ')}): ${String(lastError)}; pass init({ wasm }) with its URL or bytes`);
}

export function info(): Info {
  const r = rt();
  return {
    runtime: r.runtime,
    build: r.build,
    simd: true,
    threads: false,
    memoryBytes: r.memory.buffer.byteLength,
  };
}
