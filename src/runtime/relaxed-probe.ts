// The correctness probe that decides whether a relaxed-SIMD build may run.
// WebAssembly.validate only says an engine parses relaxed instructions; what
// they compute is partly up to the engine and the CPU, and some engines get it
// wrong: Node 20's V8 (behind --experimental-wasm-relaxed-simd) returns wrong
// i32x4.relaxed_dot_i8x16_i7x16_add_s results, and V8 on x64 without AVX-VNNI
// emulates it with pmaddubsw, which saturates pairs of u8·s8 products to i16.
// So the probe runs the build's own kernels on small known inputs, through
// every relaxed instruction the build uses (each case has 5 rows, so both the
// 4-row and the 1-row int8 microkernels run), and compares with exact sums
// computed here:
//   relaxed_dot_i8x16_i7x16_add_s  gemm_s8 (usdot layout: u8 = a + 128, s8 = b)
//     - u8 operands below 128 (the "i7" range every engine must get right)
//     - u8 operands of 128 and more, products small (u8 read as u8, not s8)
//     - u8·s8 pairs whose sum leaves the i16 range (no saturation)
//     - a general case with K, M and N tails and the full int8 range
//   relaxed_swizzle                gemm_u8b1 (table lookups, indices 0..15)
// The first failing case names the reason, which init() reports.
// The probe's calls run in the engine's baseline tier. Measured on Node 20
// with the flag: its baseline tier doubles the dot ("u8 < 128" fails) while
// its optimizing tier saturates instead; both are caught here, but an engine
// wrong only in its optimizing tier would not be (no API forces a tier-up).

import type { WasmExports } from './abi.generated.js';

/** The computations the relaxed build changes, on plain arrays. */
export interface RelaxedKernels {
  /** C[M,N] int32 = A[M,K]·B[K,N], int8 row-major operands. */
  gemmS8(a: Int8Array, b: Int8Array, M: number, N: number, K: number): Int32Array;
  /** C[M,N] int32 = Σ_k x[m,k]·w[n,k]: x uint8 [M,K], w = ±1 as packed bits [N, words] (bit 1 = -1). */
  gemmU8B1(x: Uint8Array, bits: Uint32Array, words: number, M: number, N: number, K: number): Int32Array;
}

export interface ProbeResult {
  ok: boolean;
  /** Why the relaxed build runs, or why not. */
  reason: string;
}

interface S8Case {
  name: string;
  M: number;
  N: number;
  K: number;
  a: (m: number, k: number) => number;
  b: (k: number, n: number) => number;
  /** The reason reported when this case fails (and every earlier one passed). */
  failure: string;
}

const S8_CASES: S8Case[] = [
  {
    name: 'u8 < 128',
    M: 5, N: 8, K: 12,
    a: (m, k) => -128 + ((k * 37 + m * 11) % 128),
    b: (k, n) => ((k * 13 + n * 7) % 255) - 127,
    failure: 'relaxed dot computes wrong results even for 7-bit operands (the Node 20 V8 bug)',
  },
  {
    name: 'u8 >= 128',
    M: 5, N: 8, K: 12,
    a: (m, k) => (k * 29 + m * 17) % 128,
    b: (k, n) => ((k * 5 + n * 3) % 31) - 15,
    failure: 'relaxed dot reads its u8 operand as signed',
  },
  {
    name: 'i16 pair overflow',
    M: 5, N: 8, K: 12,
    a: (m) => (m % 2 === 0 ? 127 : 100),
    b: (k, n) => (n % 2 === 0 ? 127 - (k % 2) : -128 + (k % 2)),
    failure: 'relaxed dot with u8 operands saturates (no AVX-VNNI: V8 emulates it with pmaddubsw)',
  },
  {
    name: 'general',
    M: 5, N: 11, K: 13,
    a: (m, k) => ((m * 71 + k * 43) % 256) - 128,
    b: (k, n) => ((k * 89 + n * 59 + 7) % 256) - 128,
    failure: 'the relaxed int8 GEMM differs from the exact result',
  },
];

const SWIZZLE_FAILURE = 'relaxed swizzle gives wrong table lookups';

/** Runs every case through `kernels`; ok only if all give the exact sums. */
export function judgeRelaxed(kernels: RelaxedKernels): ProbeResult {
  for (const c of S8_CASES) {
    const a = new Int8Array(c.M * c.K), b = new Int8Array(c.K * c.N);
    for (let m = 0; m < c.M; m++) for (let k = 0; k < c.K; k++) a[m * c.K + k] = c.a(m, k);
    for (let k = 0; k < c.K; k++) for (let n = 0; n < c.N; n++) b[k * c.N + n] = c.b(k, n);
    let got: Int32Array;
    try {
      got = kernels.gemmS8(a, b, c.M, c.N, c.K);
    } catch (err) {
      return { ok: false, reason: `the relaxed int8 GEMM failed to run (${String((err as Error)?.message ?? err)})` };
    }
    const want = exactS8(a, b, c.M, c.N, c.K);
    const at = firstDifference(got, want);
    if (at >= 0) return { ok: false, reason: `${c.failure}: case "${c.name}" gave ${got[at]} at C[${Math.floor(at / c.N)}, ${at % c.N}], exact ${want[at]}` };
  }
  const M = 2, N = 19, K = 37, words = 4 * Math.ceil(K / 128);
  const x = new Uint8Array(M * K);
  for (let i = 0; i < x.length; i++) x[i] = (i * 97 + 31) % 256;
  const bits = new Uint32Array(N * words);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) if ((n * 7 + k * 3) % 5 < 2) bits[n * words + (k >> 5)] |= 1 << (k & 31);
  }
  let got: Int32Array;
  try {
    got = kernels.gemmU8B1(x, bits, words, M, N, K);
  } catch (err) {
    return { ok: false, reason: `the relaxed binary GEMM failed to run (${String((err as Error)?.message ?? err)})` };
  }
  const want = exactU8B1(x, bits, words, M, N, K);
  const at = firstDifference(got, want);
  if (at >= 0) return { ok: false, reason: `${SWIZZLE_FAILURE}: gemm_u8b1 gave ${got[at]} at C[${Math.floor(at / N)}, ${at % N}], exact ${want[at]}` };
  return { ok: true, reason: 'the relaxed-SIMD probe passed (relaxed dot and swizzle give exact results)' };
}

function exactS8(a: Int8Array, b: Int8Array, M: number, N: number, K: number): Int32Array {
  const c = new Int32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * b[k * N + n];
      c[m * N + n] = s;
    }
  }
  return c;
}

function exactU8B1(x: Uint8Array, bits: Uint32Array, words: number, M: number, N: number, K: number): Int32Array {
  const c = new Int32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (bits[n * words + (k >> 5)] >>> (k & 31)) & 1 ? -x[m * K + k] : x[m * K + k];
      c[m * N + n] = s;
    }
  }
  return c;
}

function firstDifference(got: Int32Array, want: Int32Array): number {
  if (got.length !== want.length) return 0;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return i;
  return -1;
}

type ProbeExports = Pick<WasmExports,
  'heap_base' | 'gemm_s8_packed_b_bytes' | 'gemm_s8_workspace_bytes' | 'gemm_s8_pack_b' | 'gemm_s8' |
  'gemm_u8b1_packed_w_bytes' | 'gemm_u8b1_workspace_bytes' | 'gemm_u8b1_pack_w' | 'gemm_u8b1'>;

/**
 * The kernels of an instance, run on scratch memory from its heap base
 * (a probe instance's own memory: nothing else lives there).
 */
export function wasmKernels(exports: ProbeExports, memory: WebAssembly.Memory): RelaxedKernels {
  const base = (exports.heap_base() + 15) & ~15;
  const place = (sizes: number[]): number[] => {
    const at: number[] = [];
    let p = base;
    for (const s of sizes) {
      at.push(p);
      p = (p + Math.max(s, 1) + 15) & ~15;
    }
    if (p > memory.buffer.byteLength) memory.grow(Math.ceil((p - memory.buffer.byteLength) / 65536));
    return at;
  };
  return {
    gemmS8(a, b, M, N, K) {
      const [pa, pb, packed, work, pc] = place([a.length, b.length, exports.gemm_s8_packed_b_bytes(N, K), exports.gemm_s8_workspace_bytes(M, K), 4 * M * N]);
      new Int8Array(memory.buffer, pa, a.length).set(a);
      new Int8Array(memory.buffer, pb, b.length).set(b);
      exports.gemm_s8_pack_b(pb, N, N, K, 0, packed);
      exports.gemm_s8(K, pa, K, packed, pc, N, 1, 0, 0, 0, 0, M, 0, N, work);
      return new Int32Array(memory.buffer, pc, M * N).slice();
    },
    gemmU8B1(x, bits, words, M, N, K) {
      const [px, pbits, packed, work, pc] = place([x.length, 4 * bits.length, exports.gemm_u8b1_packed_w_bytes(N, K), exports.gemm_u8b1_workspace_bytes(K), 4 * M * N]);
      new Uint8Array(memory.buffer, px, x.length).set(x);
      new Uint32Array(memory.buffer, pbits, bits.length).set(bits);
      exports.gemm_u8b1_pack_w(pbits, N, words, K, packed);
      exports.gemm_u8b1(K, px, K, 0, packed, pc, N, 1, 0, 0, 0, 0, M, 0, N, work);
      return new Int32Array(memory.buffer, pc, M * N).slice();
    },
  };
}

/**
 * Instantiates `module` on a small memory of its own and probes it. A plain
 * build (build_relaxed_simd() = 0) needs no probe. `shared`: the module
 * imports a shared memory (a threads build).
 */
export async function probeModule(module: WebAssembly.Module, shared: boolean): Promise<ProbeResult & { relaxed: boolean }> {
  const memory = new WebAssembly.Memory(shared ? { initial: 4, maximum: 64, shared: true } : { initial: 4 });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as unknown as ProbeExports & { build_relaxed_simd?: () => number };
  if (typeof exports.build_relaxed_simd !== 'function' || exports.build_relaxed_simd() !== 1) {
    return { relaxed: false, ok: true, reason: 'a plain SIMD build' };
  }
  return { relaxed: true, ...judgeRelaxed(wasmKernels(exports, memory)) };
}
