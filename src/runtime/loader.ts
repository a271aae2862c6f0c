import { WASM_FUNCTION_EXPORTS, type WasmExports } from './abi.generated.js';
import { Allocator, alignUp } from './allocator.js';
import { buildFile, buildLabel, chooseBuild, type BuildName } from './builds.js';
import { isInitialized, rt, setRuntime } from './context.js';
import { detectRuntime, hasSimd, type RuntimeName } from './environment.js';
import { JOB_BLOCK_BYTES } from './jobs.js';
import { PARALLEL_MIN_COST, setParallelMinCost } from './parallel.js';
import { probeModule } from './relaxed-probe.js';
import { nodeWorkerFactory, Pool, threadCanBlock, webWorkerFactory, type WorkerFactory } from './pool.js';
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
  /**
   * Threads to compute with, the calling one included. Default: the available
   * cores, at most 8. Where threads cannot run (Cloudflare Workers, pages that
   * are not cross-origin isolated) snapgrad runs on one thread without error.
   */
  threads?: number;
  /** Where the worker script (dist/snapgrad.worker.js) is, for bundlers that move it; default: next to this module. */
  workerUrl?: string | URL;
  /**
   * Which kernel build to load when init() finds the wasm itself: 'auto' (default) runs the
   * relaxed-SIMD build where the runtime validates it and its correctness probe passes, else
   * the plain SIMD build; 'simd' always the plain build; 'relaxed' the relaxed build or an
   * error saying why it cannot run here.
   */
  build?: 'auto' | 'simd' | 'relaxed';
  /**
   * For benchmarks only: with build 'relaxed' (or a relaxed module passed in), run it even
   * though its probe failed. Its int8 GEMMs may then return wrong results.
   */
  unsafeRelaxed?: boolean;
}

export interface Info {
  runtime: RuntimeName;
  /** 'simd128' (single-thread build) or 'simd128-threads' (shared memory, worker pool). */
  build: string;
  simd: boolean;
  /** Threads that compute, the calling one included (1: no workers). */
  threads: number;
  /** Why this build and this thread count. */
  threadsReason: string;
  /** Whether the build uses relaxed SIMD (build 'relaxed-simd128' or 'relaxed-simd128-threads'). */
  relaxed: boolean;
  /** Why relaxed SIMD is used or not: the probe's verdict, or the option that decided. */
  relaxedReason: string;
  memoryBytes: number;
}

const WASM_FILE = buildFile('simd');
const BUILD_CHOICES = ['auto', 'simd', 'relaxed'];
const WORKER_FILE = 'snapgrad.worker.js';
/** Beyond 8 threads the kernels' tiles get too small to pay for the wake-ups on the sizes snapgrad trains. */
export const MAX_DEFAULT_THREADS = 8;
/** A bound on setThreads / init({ threads }), far above any core count the pool is useful for. */
const MAX_THREADS = 64;
/** What to do in Cloudflare Workers (workerd), which compile no wasm at run time: only modules bundled with the Worker run. */
const WORKERS_HINT =
  "Import the .wasm file as a module and pass it: import wasm from 'snapgrad/wasm'; await init({ module: wasm }) " +
  "(wrangler compiles *.wasm imports by default; in Miniflare add modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }]).";

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
  if (o.threads !== undefined) checkNumber(o.threads, 'init', 'options.threads', { integer: true, min: 1, max: MAX_THREADS });
  const wu = o.workerUrl as unknown;
  if (wu !== undefined && typeof wu !== 'string' && !(wu instanceof URL)) {
    throw new Error(`init: options.workerUrl must be a URL or a string (the location of dist/${WORKER_FILE}), got ${describe(wu)}`);
  }
  if (o.build !== undefined && !BUILD_CHOICES.includes(o.build as string)) {
    throw new Error(`init: options.build must be one of ${BUILD_CHOICES.map((b) => `'${b}'`).join(', ')}, got ${describe(o.build)}`);
  }
  if (o.unsafeRelaxed !== undefined && typeof o.unsafeRelaxed !== 'boolean') {
    throw new Error(`init: options.unsafeRelaxed must be a boolean, got ${describe(o.unsafeRelaxed)}`);
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
  const cores = await availableCores(runtime);
  const wanted = options.threads ?? defaultThreads(cores);
  const blocker = threadsBlocker(runtime);
  let reason = blocker ?? '';
  let module: WebAssembly.Module;
  let relaxedReason: string;
  if (options.module !== undefined || options.wasm !== undefined) {
    module = options.module ?? await compile(await resolveSource(options.wasm!, runtime));
    relaxedReason = await checkGivenModule(module, blocker === null, options);
  } else {
    const relaxed = await loadRelaxed(runtime, blocker === null, options);
    relaxedReason = relaxed.reason;
    let chosen: WebAssembly.Module | null = relaxed.module;
    if (chosen === null && blocker === null) {
      try {
        chosen = await compile(await defaultSource(runtime, chooseBuild({ relaxedOk: false, threadsOk: true })));
      } catch (err) {
        reason = `the threads build could not be loaded (${String((err as Error)?.message ?? err)})`;
      }
    }
    module = chosen ?? await compile(await defaultSource(runtime, 'simd'));
  }
  const pages = Math.max(1, Math.ceil((options.initialMemoryBytes ?? 16 * 2 ** 20) / 65536));
  // The threads build imports a shared memory, the single-thread build a plain one; a module passed by
  // the user may be either (the JS API does not say which), so where threads could run a shared memory
  // is tried first. A link error happens before any data is written, so the retry starts clean.
  let instance: WebAssembly.Instance | null = null;
  let memory = new WebAssembly.Memory({ initial: pages, maximum: 65536, shared: blocker === null });
  if (blocker === null) {
    try {
      instance = await WebAssembly.instantiate(module, { env: { memory } });
    } catch (err) {
      if (!(err instanceof WebAssembly.LinkError)) throw err;
      if (reason === '') reason = 'init() was given the single-thread build (options.module / options.wasm); pass the threads build (snapgrad.simd-threads.wasm) for threads';
      memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
    }
  }
  instance ??= await instantiate(module, memory);
  // The kernels take only numbers: the raw exports are called directly (no per-call wrapper).
  const exportsFound = instance.exports as Record<string, unknown>;
  const missing = WASM_FUNCTION_EXPORTS.filter((name) => typeof exportsFound[name] !== 'function');
  if (missing.length > 0) {
    throw new Error(`init: the wasm module does not match this version of snapgrad (it lacks ${missing.length} of the kernels, e.g. ${missing.slice(0, 3).join(', ')}); pass dist/${WASM_FILE} from the same package version`);
  }
  const kernels = instance.exports as unknown as WasmExports;
  const allocator = new Allocator(memory, kernels.heap_base());
  const argBlock = allocator.alloc(ARG_BLOCK_BYTES);
  let reservedBytes = alignUp(ARG_BLOCK_BYTES);
  let pool: Pool | null = null;
  if (isShared(memory)) {
    // The job block is reserved once, through the allocator, like any other block; workers never allocate.
    const jobBlock = allocator.alloc(JOB_BLOCK_BYTES);
    reservedBytes += alignUp(JOB_BLOCK_BYTES);
    try {
      const factory = await workerFactory(runtime, options.workerUrl);
      pool = new Pool(memory, module, jobBlock, WASM_FUNCTION_EXPORTS, factory, threadCanBlock());
      await pool.resize(wanted);
      reason = options.threads !== undefined ? `init({ threads: ${wanted} })`
        : `${cores === 1 ? 'one core is' : `${cores} cores are`} available (the default uses up to ${MAX_DEFAULT_THREADS})`;
    } catch (err) {
      pool?.shutdown();
      pool = null;
      reason = `the worker pool could not start (${String((err as Error)?.message ?? err)}); running on one thread`;
    }
  }
  const build = chooseBuild({ relaxedOk: kernels.build_relaxed_simd() === 1, threadsOk: isShared(memory) });
  setRuntime({ kernels, memory, allocator, runtime, build: buildLabel(build), argBlock, pool, threadsReason: reason, relaxedReason, reservedBytes });
  return info();
}

/**
 * The relaxed-SIMD build (threads or not, as `threadsOk`) when it validates
 * and passes its probe, else null with the reason; options.build 'relaxed'
 * turns a failure into an error unless options.unsafeRelaxed.
 */
async function loadRelaxed(runtime: RuntimeName, threadsOk: boolean, options: InitOptions): Promise<{ module: WebAssembly.Module | null; reason: string }> {
  const wanted = options.build ?? 'auto';
  if (wanted === 'simd') return { module: null, reason: "init({ build: 'simd' }) asked for the plain SIMD build" };
  const name = chooseBuild({ relaxedOk: true, threadsOk });
  let module: WebAssembly.Module | null = null;
  let reason: string;
  try {
    const bytes = await sourceBytes(await defaultSource(runtime, name));
    if (!WebAssembly.validate(bytes)) {
      reason = 'this runtime does not support relaxed SIMD (WebAssembly.validate rejects the relaxed build)' +
        (runtime === 'node' ? "; Node 20 has it only behind --experimental-wasm-relaxed-simd, and there its relaxed dot is wrong" : '');
    } else {
      module = await compile(bytes);
      const probe = await probeModule(module, threadsOk);
      reason = probe.reason;
      if (probe.ok) return { module, reason };
    }
  } catch (err) {
    reason = `the relaxed build could not be loaded (${String((err as Error)?.message ?? err)})`;
  }
  if (wanted === 'relaxed') {
    if (module !== null && options.unsafeRelaxed === true) return { module, reason: `unsafeRelaxed: running the relaxed build although ${reason}` };
    throw new Error(`init: options.build 'relaxed' cannot run correctly here: ${reason}. Use build: 'auto' (falls back to the plain SIMD build) or 'simd'` +
      (module !== null ? '; unsafeRelaxed: true runs it anyway, for benchmarks only (int8 results may be wrong)' : ''));
  }
  return { module: null, reason: `${reason}; the plain SIMD build runs` };
}

/** Probes a module passed to init(): a relaxed build that fails its probe is refused unless options.unsafeRelaxed. */
async function checkGivenModule(module: WebAssembly.Module, threadsOk: boolean, options: InitOptions): Promise<string> {
  let probe;
  try {
    probe = await probeModule(module, false);
  } catch (err) {
    // A threads build links only to a shared memory; anything else is reported by the real instantiation below.
    if (!(err instanceof WebAssembly.LinkError) || !threadsOk) return 'the module passed to init() could not be probed';
    probe = await probeModule(module, true);
  }
  const given = options.module !== undefined ? 'options.module' : 'options.wasm';
  if (!probe.relaxed) {
    if (options.build === 'relaxed') throw new Error(`init: options.build is 'relaxed' but ${given} is a plain SIMD build; pass dist/${buildFile('relaxed')} or omit options.build`);
    return `${given} is a plain SIMD build`;
  }
  if (options.build === 'simd') throw new Error(`init: options.build is 'simd' but ${given} is a relaxed-SIMD build; pass dist/${WASM_FILE} or omit options.build`);
  if (probe.ok) return `${given} is a relaxed-SIMD build and ${probe.reason}`;
  if (options.unsafeRelaxed === true) return `unsafeRelaxed: running ${given}, a relaxed-SIMD build, although ${probe.reason}`;
  throw new Error(`init: ${given} is a relaxed-SIMD build that computes wrongly in this runtime (${probe.reason}); pass dist/${WASM_FILE} instead, or omit it so that init() chooses`);
}

async function sourceBytes(source: BufferSource | Response): Promise<Uint8Array<ArrayBuffer>> {
  if (isResponseLike(source)) return new Uint8Array(await (source as Response).arrayBuffer());
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer as ArrayBuffer, source.byteOffset, source.byteLength);
  return new Uint8Array(source as ArrayBuffer);
}

/** Default thread count for `cores` available cores. */
export function defaultThreads(cores: number): number {
  return Math.max(1, Math.min(MAX_DEFAULT_THREADS, Math.floor(cores) || 1));
}

async function availableCores(runtime: RuntimeName): Promise<number> {
  if (runtime === 'node') {
    // availableParallelism respects the process's CPU affinity (taskset, containers' cpusets).
    const os = await import('node:os');
    return os.availableParallelism();
  }
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n > 0 ? n : 1;
}

/** Why threads cannot run here, or null when they can. */
function threadsBlocker(runtime: RuntimeName): string | null {
  const g = globalThis as any;
  if (runtime === 'workerd') return 'Cloudflare Workers (workerd) have no threads: the single-thread build runs';
  if (runtime === 'browser' && (g.crossOriginIsolated !== true || typeof SharedArrayBuffer === 'undefined')) {
    return 'the page is not cross-origin isolated, so it has no SharedArrayBuffer: serve it with the headers ' +
      'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp for threads; the single-thread build runs';
  }
  if (typeof SharedArrayBuffer === 'undefined') return 'this runtime has no SharedArrayBuffer: the single-thread build runs';
  if (runtime !== 'node' && typeof g.Worker !== 'function') return 'this runtime has no Worker: the single-thread build runs';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return 'this runtime cannot create a shared WebAssembly.Memory: the single-thread build runs';
  }
  return null;
}

function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

async function compile(source: BufferSource | Response | WebAssembly.Module): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  try {
    if (isResponseLike(source)) {
      const r = source as Response;
      return typeof WebAssembly.compileStreaming === 'function' ? await WebAssembly.compileStreaming(r) : await WebAssembly.compile(await r.arrayBuffer());
    }
    return await WebAssembly.compile(source as BufferSource);
  } catch (err) {
    const msg = String((err as Error)?.message ?? err);
    if (/code generation disallowed/i.test(msg)) {
      throw new Error(`init: this runtime cannot compile WebAssembly from bytes or a Response (Cloudflare Workers run only wasm modules bundled with the Worker). ${WORKERS_HINT} Original error: ${msg}`);
    }
    if (err instanceof WebAssembly.CompileError) {
      throw new Error(`init: options.wasm is not a valid WebAssembly module (${msg}); pass the bytes of dist/${WASM_FILE} (or omit options.wasm to load it from next to the module)`);
    }
    throw err;
  }
}

async function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<WebAssembly.Instance> {
  try {
    return await WebAssembly.instantiate(module, { env: { memory } });
  } catch (err) {
    const msg = String((err as Error)?.message ?? err);
    if (err instanceof WebAssembly.LinkError) {
      throw new Error(`init: the wasm module does not match this version of snapgrad (${msg}); pass dist/${WASM_FILE} from the same package version`);
    }
    throw err;
  }
}

/** The worker script next to this module (dist/), or in dist/ when run from src/. Resolved here, never at module load. */
async function workerFactory(runtime: RuntimeName, given: string | URL | undefined): Promise<WorkerFactory> {
  let candidates: URL[];
  if (given !== undefined) candidates = [given instanceof URL ? given : toUrl(given)];
  else {
    const here = import.meta.url;
    if (!here) throw new Error(`this runtime gives modules no import.meta.url; pass init({ workerUrl }) with the URL of dist/${WORKER_FILE}`);
    const fromSource = '../../dist/' + WORKER_FILE;
    candidates = [new URL('./snapgrad.worker.js', import.meta.url), new URL(fromSource, here)];
  }
  for (const url of candidates) {
    // Deno too: its node:worker_threads workers can be unref'd, its Web Workers keep the process alive.
    if (await exists(url, runtime)) return runtime === 'node' || runtime === 'deno' ? nodeWorkerFactory(url) : webWorkerFactory(url);
  }
  throw new Error(`the worker script was not found (${candidates.map((u) => u.href).join(', ')}); pass init({ workerUrl })`);
}

async function exists(url: URL, runtime: RuntimeName): Promise<boolean> {
  try {
    if (url.protocol === 'file:' && runtime === 'node') {
      await readNodeFile(url);
      return true;
    }
    const response = await fetch(url);
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
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
async function defaultSource(runtime: RuntimeName, build: BuildName): Promise<BufferSource | Response> {
  const file = buildFile(build);
  if (runtime === 'workerd') {
    throw new Error(`init: in Cloudflare Workers init() needs the wasm module, which cannot be fetched or compiled at run time there. ${WORKERS_HINT}`);
  }
  const here = import.meta.url;
  if (!here) throw new Error('init: cannot locate the wasm file (this runtime gives modules no import.meta.url); pass init({ wasm }) or init({ module })');
  const fromSource = '../../dist/' + file;
  // Literal URLs, one per build, so that bundlers see every file.
  const nextTo =
    build === 'simd-threads' ? new URL('./snapgrad.simd-threads.wasm', import.meta.url)
    : build === 'relaxed' ? new URL('./snapgrad.relaxed.wasm', import.meta.url)
    : build === 'relaxed-threads' ? new URL('./snapgrad.relaxed-threads.wasm', import.meta.url)
    : new URL('./snapgrad.simd.wasm', import.meta.url);
  const candidates = [nextTo, new URL(fromSource, here)];
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
  throw new Error(`init: could not load ${file} next to the module${hint} (${candidates.map((u) => u.href).join(', ')}): ${String(lastError)}; pass init({ wasm }) with its URL or bytes`);
}

export function info(): Info {
  const r = rt();
  return {
    runtime: r.runtime,
    build: r.build,
    simd: true,
    threads: r.pool?.threads ?? 1,
    threadsReason: r.threadsReason,
    relaxed: r.build.startsWith('relaxed-'),
    relaxedReason: r.relaxedReason,
    memoryBytes: r.memory.buffer.byteLength,
  };
}

export interface SetThreadsOptions {
  /**
   * Kernel calls whose work (multiply-adds or equivalent) is below this stay on
   * the calling thread; a finite number >= 0, default 2^20 (measured; see bench/threads.mjs). 0 splits every call, as the tests do.
   */
  minParallelCost?: number;
}

/**
 * Computes with `threads` threads from now on (the calling one included),
 * starting workers as needed; resolves with info(). Where threads cannot run
 * (the single-thread build) it stays at 1 thread and info().threadsReason says why.
 */
export async function setThreads(threads: number, options: SetThreadsOptions | null = {}): Promise<Info> {
  checkNumber(threads, 'setThreads', 'threads', { integer: true, min: 1, max: MAX_THREADS });
  const o = readOptions<SetThreadsOptions>(options, 'setThreads');
  if (o.minParallelCost !== undefined) {
    setParallelMinCost(checkNumber(o.minParallelCost, 'setThreads', 'options.minParallelCost', { min: 0 }));
  }
  const r = rt();
  if (r.pool === null) return info();
  await r.pool.resize(threads);
  r.threadsReason = `setThreads(${threads})`;
  return info();
}
