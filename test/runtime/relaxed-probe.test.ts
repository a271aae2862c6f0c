// The relaxed-SIMD probe and build choice: the probe accepts exact kernels and
// rejects each known wrong behaviour of relaxed_dot_i8x16_i7x16_add_s (fed to
// it as fake kernels emulating the engines' results, and as a real instance
// whose exports were tampered with); chooseBuild's table; init()'s options.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { BUILD_NAMES, buildFile, buildLabel, chooseBuild } from '../../src/runtime/builds.js';
import { judgeRelaxed, probeModule, wasmKernels, type RelaxedKernels } from '../../src/runtime/relaxed-probe.js';
import * as sg from '../../src/index.js';

const DIST = new URL('../../dist/', import.meta.url);

/** The usdot formulation in plain JS: C = -128·Σ_k b + Σ over 4-k groups of `group` on (a + 128, b) pairs. */
function usdotGemm(pair: (u0: number, b0: number, u1: number, b1: number) => number): RelaxedKernels['gemmS8'] {
  return (a, b, M, N, K) => {
    const c = new Int32Array(M * N);
    const K4 = Math.ceil(K / 4) * 4;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc -= 128 * b[k * N + n];
        const u = (k: number) => (k < K ? a[m * K + k] + 128 : 128);
        const w = (k: number) => (k < K ? b[k * N + n] : 0);
        for (let k = 0; k < K4; k += 2) acc += pair(u(k), w(k), u(k + 1), w(k + 1));
        c[m * N + n] = acc;
      }
    }
    return c;
  };
}

const exactPair = (u0: number, b0: number, u1: number, b1: number) => u0 * b0 + u1 * b1;
const sat16 = (x: number) => Math.max(-32768, Math.min(32767, x));

function exactU8B1(x: Uint8Array, bits: Uint32Array, words: number, M: number, N: number, K: number): Int32Array {
  const c = new Int32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        const negative = (bits[n * words + (k >> 5)] >>> (k & 31)) & 1;
        c[m * N + n] += negative ? -x[m * K + k] : x[m * K + k];
      }
    }
  }
  return c;
}

const exact: RelaxedKernels = { gemmS8: usdotGemm(exactPair), gemmU8B1: exactU8B1 };

describe('judgeRelaxed', () => {
  test('accepts exact kernels', () => {
    expect(judgeRelaxed(exact)).toEqual({ ok: true, reason: expect.stringContaining('probe passed') });
  });

  test('rejects a relaxed dot that saturates u8·s8 pairs to i16 (V8 on x64 without AVX-VNNI: pmaddubsw)', () => {
    const r = judgeRelaxed({ ...exact, gemmS8: usdotGemm((u0, b0, u1, b1) => sat16(u0 * b0 + u1 * b1)) });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/^relaxed dot with u8 operands saturates \(no AVX-VNNI.*case "i16 pair overflow" gave -?\d+ at C\[\d+, \d+\], exact -?\d+$/);
  });

  test('rejects a relaxed dot that doubles its products (what Node 20 returns for 7-bit operands)', () => {
    const r = judgeRelaxed({ ...exact, gemmS8: usdotGemm((u0, b0, u1, b1) => 2 * (u0 * b0 + u1 * b1)) });
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('wrong results even for 7-bit operands (the Node 20 V8 bug): case "u8 < 128"');
  });

  test('rejects a relaxed dot that reads its u8 operand as signed (sdot semantics)', () => {
    const s8 = (u: number) => (u >= 128 ? u - 256 : u);
    const r = judgeRelaxed({ ...exact, gemmS8: usdotGemm((u0, b0, u1, b1) => s8(u0) * b0 + s8(u1) * b1) });
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('reads its u8 operand as signed: case "u8 >= 128"');
  });

  test('rejects an int8 GEMM that is wrong only past the K, M and N tails', () => {
    const gemm = usdotGemm(exactPair);
    const r = judgeRelaxed({ ...exact, gemmS8: (a, b, M, N, K) => { const c = gemm(a, b, M, N, K); if (K % 4 !== 0) c[c.length - 1] ^= 1; return c; } });
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('case "general"');
  });

  test('rejects a wrong swizzle table lookup', () => {
    const r = judgeRelaxed({ ...exact, gemmU8B1: (...args) => { const c = exactU8B1(...args); c[5] += 16; return c; } });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/^relaxed swizzle gives wrong table lookups: gemm_u8b1 gave -?\d+ at C\[0, 5\]/);
  });

  test('a kernel that throws is a failed probe, not an init crash', () => {
    const r = judgeRelaxed({ ...exact, gemmS8: () => { throw new RangeError('offset is out of bounds'); } });
    expect(r).toEqual({ ok: false, reason: 'the relaxed int8 GEMM failed to run (offset is out of bounds)' });
  });
});

describe('the probe on real wasm instances', () => {
  const plainBytes = readFileSync(new URL(buildFile('simd'), DIST));

  test('the plain build computes the exact sums the probe expects (its expectations are right)', () => {
    const memory = new WebAssembly.Memory({ initial: 4 });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(plainBytes), { env: { memory } });
    expect(judgeRelaxed(wasmKernels(instance.exports as any, memory)).ok).toBe(true);
  });

  test('an instance whose gemm_s8 export returns one wrong sum is rejected', () => {
    const memory = new WebAssembly.Memory({ initial: 4 });
    const exports = new WebAssembly.Instance(new WebAssembly.Module(plainBytes), { env: { memory } }).exports as any;
    const tampered = {
      ...exports,
      gemm_s8: (...args: number[]) => {
        exports.gemm_s8(...args);
        new Int32Array(memory.buffer, args[4], 1)[0] += 2;
      },
    };
    const r = judgeRelaxed(wasmKernels(tampered, memory));
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('case "u8 < 128" gave');
  });

  test('probeModule: a plain build needs no probe; the relaxed build says it is relaxed', async () => {
    expect(await probeModule(new WebAssembly.Module(plainBytes), false)).toEqual({ relaxed: false, ok: true, reason: 'a plain SIMD build' });
    const relaxedBytes = readFileSync(new URL(buildFile('relaxed'), DIST));
    if (WebAssembly.validate(relaxedBytes)) {
      const r = await probeModule(new WebAssembly.Module(relaxedBytes), false);
      expect(r.relaxed).toBe(true);
      expect(r.reason.length).toBeGreaterThan(20);
    } else {
      expect(() => new WebAssembly.Module(relaxedBytes)).toThrow(WebAssembly.CompileError);
    }
  });
});

describe('chooseBuild', () => {
  test('the fastest build whose conditions hold, one file and label each', () => {
    expect(chooseBuild({ relaxedOk: false, threadsOk: false })).toBe('simd');
    expect(chooseBuild({ relaxedOk: false, threadsOk: true })).toBe('simd-threads');
    expect(chooseBuild({ relaxedOk: true, threadsOk: false })).toBe('relaxed');
    expect(chooseBuild({ relaxedOk: true, threadsOk: true })).toBe('relaxed-threads');
    expect(BUILD_NAMES.map(buildFile)).toEqual(['snapgrad.simd.wasm', 'snapgrad.simd-threads.wasm', 'snapgrad.relaxed.wasm', 'snapgrad.relaxed-threads.wasm']);
    expect(BUILD_NAMES.map(buildLabel)).toEqual(['simd128', 'simd128-threads', 'relaxed-simd128', 'relaxed-simd128-threads']);
  });
});

describe('init options', () => {
  test('bad build options are rejected before anything loads', async () => {
    await expect(sg.init({ build: 'fast' as any })).rejects.toThrow("init: options.build must be one of 'auto', 'simd', 'relaxed', got");
    await expect(sg.init({ unsafeRelaxed: 1 as any })).rejects.toThrow('init: options.unsafeRelaxed must be a boolean, got');
  });

  test('info() says which build runs and why', async () => {
    const info = await sg.init();
    expect(info.relaxed).toBe(info.build.startsWith('relaxed-'));
    const relaxedBytes = readFileSync(new URL(buildFile('relaxed'), DIST));
    if (!WebAssembly.validate(relaxedBytes)) {
      expect(info.relaxed).toBe(false);
      expect(info.relaxedReason).toContain('WebAssembly.validate rejects the relaxed build');
    }
    expect(info.relaxedReason).toMatch(/probe passed|plain SIMD build runs/);
  });
});

// Node 20 runs relaxed SIMD only behind a flag, and there computes the relaxed dot wrongly:
// init() must notice through the probe, not trust validate().
const FLAG = '--experimental-wasm-relaxed-simd';
const flagWorks = spawnSync(process.execPath, [FLAG, '-e', '0']).status === 0;

describe.skipIf(!flagWorks)(`Node with ${FLAG}`, () => {
  function initIn(options: object): { info?: any; error?: string } {
    const script = `const sg = await import(${JSON.stringify(new URL('snapgrad.js', DIST).href)});
      try { console.log(JSON.stringify({ info: await sg.init(${JSON.stringify(options)}) })); } catch (e) { console.log(JSON.stringify({ error: e.message })); }`;
    const r = spawnSync(process.execPath, [FLAG, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }

  test('validate() accepts the relaxed build, and the probe decides', () => {
    const { info } = initIn({ threads: 1 });
    if (info.relaxed) expect(info.relaxedReason).toContain('probe passed');
    else expect(info.relaxedReason).toMatch(/^relaxed dot .*; the plain SIMD build runs$/);
  });

  test("build: 'relaxed' is an error naming the reason where the probe fails; unsafeRelaxed runs it anyway", () => {
    const auto = initIn({ threads: 1 }).info;
    if (auto.relaxed) return;
    const forced = initIn({ threads: 1, build: 'relaxed' });
    expect(forced.error).toMatch(/^init: options\.build 'relaxed' cannot run correctly here: relaxed dot .* unsafeRelaxed: true runs it anyway, for benchmarks only/);
    const unsafe = initIn({ threads: 1, build: 'relaxed', unsafeRelaxed: true }).info;
    expect(unsafe.relaxed).toBe(true);
    expect(unsafe.build).toMatch(/^relaxed-simd128/);
    expect(unsafe.relaxedReason).toMatch(/^unsafeRelaxed: running the relaxed build although relaxed dot/);
  });

  test('the relaxed build passed as options.wasm is probed and refused where it is wrong', () => {
    const auto = initIn({ threads: 1 }).info;
    if (auto.relaxed) return;
    const given = initIn({ threads: 1, wasm: new URL(buildFile('relaxed'), DIST).href });
    expect(given.error).toMatch(/^init: options\.wasm is a relaxed-SIMD build that computes wrongly in this runtime \(relaxed dot .*\); pass dist\/snapgrad\.simd\.wasm instead/);
  });
});
