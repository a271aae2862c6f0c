// The kernels the relaxed build changes, timed inside one runtime (Deno or a
// browser page; no Node APIs): int8 GEMM (relaxed dot), u8 x 1-bit GEMM
// (relaxed swizzle) and, as the control that is the same code in both builds,
// the XNOR binary GEMM. Weights are packed once (cached), as in inference.
// Used by bench/relaxed.mjs.

export const SHAPES = [[128, 1024, 784], [512, 512, 512]];

/**
 * { ms, cpuMs }: the median wall time of a call, and (where the runtime has a
 * process CPU clock, Deno) the process CPU time per call, which on a loaded
 * machine measures a 1-thread kernel better than wall time does.
 */
function timeIt(fn, cpuClock, minMs = 400, minRepeats = 5) {
  // Warm up by time, not by count: the optimizing tier compiles in the background.
  const warm = performance.now();
  for (let i = 0; i < 3 || performance.now() - warm < 250; i++) fn();
  const samples = [];
  const start = performance.now();
  const cpu0 = cpuClock?.();
  while (samples.length < minRepeats || performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  const cpuMs = cpuClock ? (cpuClock() - cpu0) / samples.length : null;
  samples.sort((a, b) => a - b);
  return { ms: samples[samples.length >> 1], cpuMs };
}

function lcg(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 16;
}

/** [{ kernel, shape, ops, ms, cpuMs }] for every case at the current thread count. */
export function runCases(sg, cpuClock = null) {
  const rows = [];
  for (const [M, K, N] of SHAPES) {
    const shape = `${M}x${K}x${N}`;
    const r = lcg(M + K + N);
    const ops = 2 * M * K * N;
    {
      const a = sg.tensor(Int8Array.from({ length: M * K }, () => (r() % 256) - 128), [M, K], { dtype: 'int8' });
      const b = sg.tensor(Int8Array.from({ length: K * N }, () => (r() % 256) - 128), [K, N], { dtype: 'int8' });
      rows.push({ kernel: 'int8Matmul', shape, ops, ...timeIt(() => sg.int8Matmul(a, b).dispose(), cpuClock) });
      a.dispose(); b.dispose();
    }
    {
      const x = sg.tensor(Uint8Array.from({ length: M * K }, () => r() % 256), [M, K], { dtype: 'uint8' });
      const w = sg.tensor(Float32Array.from({ length: N * K }, () => (r() & 1 ? 1 : -1)), [N, K]);
      const bits = sg.packBits(w);
      rows.push({ kernel: 'uint8BinaryMatmul', shape, ops, ...timeIt(() => sg.uint8BinaryMatmul(x, bits).dispose(), cpuClock) });
      x.dispose(); w.dispose(); bits.dispose();
    }
    {
      const a = sg.tensor(Float32Array.from({ length: M * K }, () => (r() & 1 ? 1 : -1)), [M, K]);
      const b = sg.tensor(Float32Array.from({ length: N * K }, () => (r() & 1 ? 1 : -1)), [N, K]);
      const ab = sg.packBits(a), bb = sg.packBits(b);
      rows.push({ kernel: 'binaryMatmul', shape, ops, ...timeIt(() => sg.binaryMatmul(ab, bb, K).dispose(), cpuClock) });
      [a, b, ab, bb].forEach((t) => t.dispose());
    }
  }
  return rows;
}

/** init with the build and threads, then the cases; { info, rows } (or { error }). Build 'probe': init() alone, for its verdict. */
export async function benchBuild(sg, build, threads, cpuClock = null) {
  try {
    if (build === 'probe') return { info: await sg.init({ threads }) };
    const info = await sg.init({ build, unsafeRelaxed: build === 'relaxed', threads });
    if (info.threads !== threads) return { error: `asked for ${threads} threads, got ${info.threads} (${info.threadsReason})` };
    return { info, rows: runCases(sg, cpuClock) };
  } catch (err) {
    return { error: String(err?.message ?? err) };
  }
}

// Run directly (Deno): deno run --allow-read bench/relaxed-cases.mjs <snapgrad.js URL> <build> <threads>
if (globalThis.Deno && import.meta.main) {
  const [url, build, threads] = Deno.args;
  const sg = await import(url);
  const { cpuUsage } = await import('node:process');
  const cpuClock = () => { const u = cpuUsage(); return (u.user + u.system) / 1000; };
  console.log(JSON.stringify(await benchBuild(sg, build, Number(threads), Number(threads) === 1 ? cpuClock : null)));
  Deno.exit(0);
}
