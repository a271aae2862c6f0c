// The oracle of every fuzz case: a call either throws a clear Error naming
// the public function (and the bad argument, when the case knows it), or
// returns what the scalar reference says. Around every case: no leak, no
// change to user-owned state on rejection, and a runtime that still computes
// a known product.
import fc from 'fast-check';
import { appendFileSync } from 'node:fs';
import { beforeAll, expect, test } from 'vitest';
import * as sg from '../../src/index.js';

// ---- configuration (env) -------------------------------------------------

/** Runs per property (CI default is modest; `npm run fuzz -- --runs N` raises it). */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 50);
export const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const REPORT = process.env.FUZZ_REPORT;
const TIMEOUT = Number(process.env.FUZZ_TIMEOUT_MS ?? 90_000);
/** Keep running after a failing case and report every distinct failure (npm run fuzz -- --collect). */
const COLLECT = process.env.FUZZ_COLLECT === '1';

/** A failure message with numbers and tensor ids masked, so repeats of one failure group together. */
function failureKey(message: string): string {
  return message.replace(/#\d+/g, '#N').replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/gi, 'N').slice(0, 200);
}

export function useRuntime(): void {
  beforeAll(async () => {
    await sg.init();
  });
}

/**
 * Declares one property. `covers` names the public exports it models (the
 * coverage test reads these literals); `weight` scales its share of runs.
 */
export function prop<T>(covers: string[], title: string, arb: fc.Arbitrary<T>, body: (v: T) => void | Promise<void>, weight = 1): void {
  const name = `${covers.join(', ')}: ${title}`;
  test(name, async () => {
    const numRuns = Math.max(1, Math.round(RUNS * weight));
    const distinct = new Map<string, { message: string; counterexample: string; count: number }>();
    const run = COLLECT
      ? async (v: T) => {
        try {
          await body(v);
        } catch (e) {
          const message = String((e as Error)?.message ?? e);
          const key = failureKey(message);
          const seen = distinct.get(key);
          if (seen) seen.count++;
          else distinct.set(key, { message: message.slice(0, 500), counterexample: safeStringify([v]).slice(0, 1500), count: 1 });
        }
      }
      : async (v: T) => { await body(v); };
    const details = await fc.check(fc.asyncProperty(arb, run), { seed: SEED, numRuns, endOnFailure: process.env.FUZZ_SHRINK !== '1' });
    if (COLLECT && distinct.size > 0) {
      const list = [...distinct.values()];
      if (REPORT) appendFileSync(REPORT, JSON.stringify({ name, runs: details.numRuns, failed: true, seed: SEED, path: '', counterexample: list[0].counterexample, error: `${list.length} distinct failures`, distinct: list }) + '\n');
      throw new Error(`${list.length} distinct failures in ${details.numRuns} runs:\n${list.map((d) => `- (${d.count}x) ${d.message}\n  e.g. ${d.counterexample}`).join('\n')}`);
    }
    if (REPORT) {
      appendFileSync(REPORT, JSON.stringify({
        name, runs: details.numRuns, failed: details.failed, seed: details.seed, path: details.counterexamplePath,
        counterexample: details.failed ? safeStringify(details.counterexample) : undefined,
        error: details.failed ? String((details.errorInstance as Error)?.message ?? details.errorInstance).slice(0, 2000) : undefined,
      }) + '\n');
    }
    if (details.failed) {
      throw new Error(`property failed after ${details.numRuns} runs (seed ${details.seed}, path "${details.counterexamplePath}")\ncounterexample: ${safeStringify(details.counterexample)}\n${(details.errorInstance as Error)?.message ?? details.errorInstance}`);
    }
  }, TIMEOUT * Math.max(1, RUNS / 50));
}

export function safeStringify(v: unknown): string {
  return fc.stringify(v).slice(0, 3000);
}

// ---- errors ----------------------------------------------------------------

const INTERNAL_ERRORS = [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

/**
 * A clear error: an Error that is not an internal JS or wasm error, whose
 * message names `fn` and, when given, one of the `args`, and does not call
 * itself "internal".
 */
export function expectClearError(err: unknown, fn: string | string[], args?: string[]): void {
  const fns = Array.isArray(fn) ? fn : [fn];
  if (!(err instanceof Error)) throw new Error(`expected an Error from ${fns[0]}, got a thrown ${fc.stringify(err)}`);
  const wasm = typeof WebAssembly !== 'undefined' && (err instanceof WebAssembly.RuntimeError || err instanceof WebAssembly.CompileError || err instanceof WebAssembly.LinkError);
  if (wasm || INTERNAL_ERRORS.some((E) => err instanceof E)) {
    throw new Error(`${fns[0]} threw an internal ${err.constructor.name}: ${err.message}`);
  }
  const msg = err.message;
  if (!fns.some((f) => msg.includes(f))) throw new Error(`error does not name ${fns.join(' or ')}: "${msg}"`);
  if (/^internal|: internal:|\binternal:/.test(msg)) throw new Error(`error calls itself internal: "${msg}"`);
  if (/HTTP undefined|needs NaN values|\[object /.test(msg)) {
    throw new Error(`error message looks accidental: "${msg}"`);
  }
  if (args && args.length > 0 && !args.some((a) => msg.includes(a))) {
    throw new Error(`error from ${fns[0]} does not mention ${args.join(' or ')}: "${msg}"`);
  }
}

// ---- state ----------------------------------------------------------------

export interface Snapshot {
  check(): void;
}

/** Records the bytes, shape, dtype, requiresGrad and grad of user-owned tensors, to compare after a rejected call. */
export function snapshot(tensors: readonly (sg.Tensor | null | undefined)[], label = 'tensor'): Snapshot {
  const rows = tensors.filter((t): t is sg.Tensor => t instanceof sg.Tensor).map((t) => ({
    t,
    disposed: t.disposed,
    bytes: t.disposed ? null : bytesOf(t),
    requiresGrad: t.requiresGrad,
    grad: t.grad,
    gradBytes: t.grad instanceof sg.Tensor && !t.grad.disposed ? bytesOf(t.grad) : null,
  }));
  return {
    check(): void {
      rows.forEach((r, i) => {
        const what = `${label} ${i} (#${r.t.id}, [${r.t.shape}] ${r.t.dtype})`;
        if (r.t.disposed !== r.disposed) throw new Error(`${what} was ${r.t.disposed ? 'disposed' : 'revived'} by a rejected call`);
        if (r.bytes && !sameBytes(r.bytes, bytesOf(r.t))) throw new Error(`${what}: its values were changed by a rejected call`);
        if (r.t.requiresGrad !== r.requiresGrad) throw new Error(`${what}: requiresGrad changed`);
        if (r.t.grad !== r.grad) throw new Error(`${what}: .grad was replaced or dropped`);
        if (r.gradBytes && (!(r.t.grad instanceof sg.Tensor) || r.t.grad.disposed || !sameBytes(r.gradBytes, bytesOf(r.t.grad)))) throw new Error(`${what}: .grad values changed`);
      });
    },
  };
}

export function bytesOf(t: sg.Tensor): Uint8Array {
  const d = t.dataSync();
  return new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---- the case runner ----------------------------------------------------------

/** memoryStats, to compare before/after. */
export function stats(): { tensors: number; bytes: number } {
  const m = sg.memoryStats();
  return { tensors: m.tensorsAlive, bytes: m.bytesInUse };
}

/** A 2x2 product the runtime must still get right after any case. */
export function canary(): void {
  const before = stats();
  const a = sg.tensor([[1, 2], [3, 4]]);
  const b = sg.tensor([[5, 6], [7, 8]]);
  const c = sg.matmul(a, b);
  const got = Array.from(c.dataSync());
  a.dispose(); b.dispose(); c.dispose();
  if (got.join() !== '19,22,43,50') throw new Error(`runtime canary: [[1,2],[3,4]]·[[5,6],[7,8]] gave [${got}]`);
  const after = stats();
  if (after.tensors !== before.tensors || after.bytes !== before.bytes) throw new Error('runtime canary leaked');
}

/** Every tensor reachable in a result (arrays, plain objects, Maps, Sets). */
export function tensorsIn(v: unknown, out: sg.Tensor[] = [], depth = 0): sg.Tensor[] {
  if (v instanceof sg.Tensor) out.push(v);
  else if (depth < 6 && v !== null && typeof v === 'object') {
    const items = v instanceof Map ? [...v.values()] : v instanceof Set ? [...v] : Array.isArray(v) ? v : Object.getPrototypeOf(v) === Object.prototype ? Object.values(v) : [];
    for (const x of items) tensorsIn(x, out, depth + 1);
  }
  return out;
}

export type Expect = 'ok' | 'error' | 'either';

export interface CaseSpec<R> {
  /** Public name(s) an error must mention. */
  fn: string | string[];
  /** Whether the call must succeed, must be rejected, or may do either (the contract allows both). */
  expect: Expect;
  /** Names one of which a rejection must mention (the bad argument). */
  args?: string[];
  /** User-owned tensors that must be unchanged after a rejected call (and, unless `mutates`, after any call). */
  state?: readonly (sg.Tensor | null | undefined)[];
  /** The call legitimately updates `state` on success (optimizer step, EMA update, training forward). */
  mutates?: boolean;
  /** Checks a successful result against the reference. */
  check?: (r: R) => void;
  /** Tensors the case intends to keep alive after success (e.g. gradients on leaves); they are disposed by the case. */
  kept?: (r: R) => (sg.Tensor | null | undefined)[];
  /** The call frees tensors the case made before it (dispose): the caller checks memory around the whole case instead. */
  frees?: boolean;
  /**
   * The call may cache data derived from an input tensor (packed weights,
   * codebook norms), freed with that tensor: bytes are then compared by the
   * caller after freeing the inputs (see expectNoLeakSince); tensors are still counted here.
   */
  caches?: boolean;
}

/**
 * Runs one call under the oracle. The result's tensors are disposed by the
 * runner; the leak check compares memoryStats before the call with after
 * disposing them (and what the case says it keeps).
 */
export async function runCase<R>(call: () => R | Promise<R>, spec: CaseSpec<R>): Promise<void> {
  const before = stats();
  const snap = snapshot(spec.state ?? []);
  let result: R | undefined;
  let err: unknown = null;
  let threw = false;
  try {
    result = await call();
  } catch (e) {
    err = e;
    threw = true;
  }
  const own = threw ? [] : [...tensorsIn(result), ...(spec.kept?.(result as R) ?? [])].filter((t): t is sg.Tensor => t instanceof sg.Tensor);
  try {
    const fns = Array.isArray(spec.fn) ? spec.fn : [spec.fn];
    if (threw) {
      if (spec.expect === 'ok') throw new Error(`${fns[0]} rejected valid input: ${(err as Error)?.message ?? String(err)}`);
      expectClearError(err, spec.fn, spec.args);
      snap.check();
    } else {
      if (spec.expect === 'error') throw new Error(`${fns[0]} accepted invalid input (returned ${describeResult(result)})`);
      if (!spec.mutates) snap.check();
      spec.check?.(result as R);
    }
  } finally {
    const seen = new Set<sg.Tensor>();
    for (const t of own) if (!seen.has(t)) { seen.add(t); t.dispose(); }
  }
  const after = stats();
  if (!spec.frees && (after.tensors !== before.tensors || (!spec.caches && after.bytes !== before.bytes))) {
    const fns = Array.isArray(spec.fn) ? spec.fn : [spec.fn];
    throw new Error(`${fns[0]} leaked: ${after.tensors - before.tensors} tensors, ${after.bytes - before.bytes} bytes (${threw ? 'rejected' : 'successful'} call${threw ? `: ${(err as Error)?.message}` : ''})`);
  }
  canary();
}

function describeResult(r: unknown): string {
  if (r instanceof sg.Tensor) return r.disposed ? 'a disposed tensor' : `a ${r.dtype} tensor [${r.shape}]`;
  try { return fc.stringify(r).slice(0, 200); } catch { return typeof r; }
}

/** Memory must be back to `since` (taken before a case made its inputs), once the case freed them. */
export function expectNoLeakSince(since: { tensors: number; bytes: number }, what: string): void {
  const now = stats();
  if (now.tensors !== since.tensors || now.bytes !== since.bytes) throw new Error(`${what} leaked: ${now.tensors - since.tensors} tensors, ${now.bytes - since.bytes} bytes after freeing the case's inputs`);
}

/** Disposes every tensor given (inputs a case made), including their grads. */
export function free(...ts: unknown[]): void {
  for (const t of tensorsIn(ts)) t.dispose();
}

// ---- numeric comparison ------------------------------------------------------

const f32buf = new Float32Array(1);
const i32buf = new Int32Array(f32buf.buffer);

/** Distance in float32 units in the last place (ordered bit patterns). */
export function ulpDistance(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (a === b) return 0;
  const ord = (x: number): number => {
    f32buf[0] = x;
    const i = i32buf[0];
    return i < 0 ? -(i & 0x7fffffff) : i;
  };
  return Math.abs(ord(a) - ord(b));
}

/** Elementwise comparison: NaN must match NaN, ±Infinity exactly, finite within ulps or abs/rel tolerance. -0 and +0 are distinguished only when `signedZero`. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol: { ulps?: number; abs?: number; rel?: number; signedZero?: boolean } = {}): void {
  if (got.length !== want.length) throw new Error(`${what}: got ${got.length} values, want ${want.length}`);
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w) || Number.isNaN(g)) {
      if (Number.isNaN(w) !== Number.isNaN(g)) throw new Error(`${what}[${i}]: got ${g}, want ${w}`);
      continue;
    }
    if (g === w) {
      if (tol.signedZero && !Object.is(g, w)) throw new Error(`${what}[${i}]: got ${Object.is(g, -0) ? '-0' : '+0'}, want ${Object.is(w, -0) ? '-0' : '+0'}`);
      continue;
    }
    if (!Number.isFinite(w) || !Number.isFinite(g)) throw new Error(`${what}[${i}]: got ${g}, want ${w}`);
    const ulpOk = tol.ulps !== undefined && ulpDistance(g, w) <= tol.ulps;
    const absOk = tol.abs !== undefined && Math.abs(g - w) <= tol.abs + (tol.rel ?? 0) * Math.abs(w);
    const relOk = tol.rel !== undefined && tol.abs === undefined && Math.abs(g - w) <= tol.rel * Math.abs(w);
    if (!ulpOk && !absOk && !relOk) throw new Error(`${what}[${i}]: got ${g}, want ${w} (tolerance ${JSON.stringify(tol)})`);
  }
}

export function expectShape(t: sg.Tensor, shape: readonly number[], dtype: string, what: string): void {
  expect(t).toBeInstanceOf(sg.Tensor);
  if (t.disposed) throw new Error(`${what}: returned a disposed tensor`);
  if (t.dtype !== dtype || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${what}: got ${t.dtype} [${t.shape}], want ${dtype} [${shape}]`);
  }
}

/** Strides of a contiguous row-major shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

export const f32 = Math.fround;

/** Flat index into an operand of shape s for output position idx of shape out (broadcasting). */
export function sourceIndex(idx: number, out: readonly number[], s: readonly number[]): number {
  const os = strides(out);
  const ss = strides(s);
  let at = 0;
  for (let k = 0; k < out.length; k++) {
    const coord = Math.floor(idx / os[k]) % out[k];
    const j = k - (out.length - s.length);
    if (j >= 0 && s[j] !== 1) at += coord * ss[j];
  }
  return at;
}
