// The relaxed build's kernels against naive sums, in a runtime that runs relaxed
// SIMD (Deno, Node with --experimental-wasm-relaxed-simd): int8 GEMMs with B in
// [-64, 63], where the usdot formulation is exact even on engines that saturate
// u8·s8 pairs to i16 (255·64·2 < 2^15), so the packing, the -128·Σb correction
// and every tail are checked on any CPU; and the u8×1-bit GEMM (relaxed swizzle)
// on full-range inputs. Prints { info, checked, mismatches, fullRangeExact }.
//
//   deno run --allow-read relaxed-kernels.mjs <dist/snapgrad.js URL> <threads>
const args = globalThis.Deno ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const sg = await import(args[0]);
const threads = Number(args[1] ?? 1);
const info = await sg.init({ build: 'relaxed', unsafeRelaxed: true, threads });
if (info.threads > 1) await sg.setThreads(threads, { minParallelCost: 0 });

let state = 12345;
const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 8;
const fill = (n, lo, hi) => Int8Array.from({ length: n }, (_, i) => (i % 7 === 3 ? lo : lo + (next() % (hi - lo + 1))));

const mismatches = [];
let checked = 0;

function checkInt8(M, K, N, transposeB, bLo, bHi) {
  const a = fill(M * K, -128, 127);
  const b = fill(K * N, bLo, bHi);
  const ta = sg.tensor(a, [M, K], { dtype: 'int8' });
  const tb = sg.tensor(b, transposeB ? [N, K] : [K, N], { dtype: 'int8' });
  const c = sg.int8Matmul(ta, tb, { transposeB });
  const got = c.dataSync().slice();
  [ta, tb, c].forEach((t) => t.dispose());
  let bad = 0;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * b[transposeB ? n * K + k : k * N + n];
      if (got[m * N + n] !== s) bad++;
    }
  }
  return bad;
}

const shapes = [[1, 1, 1], [1, 4, 8], [2, 3, 9], [5, 13, 11], [4, 64, 8], [7, 129, 17], [9, 31, 33], [1, 200, 24], [13, 257, 5]];
for (const [M, K, N] of shapes) {
  for (const transposeB of [false, true]) {
    checked++;
    const bad = checkInt8(M, K, N, transposeB, -64, 63);
    if (bad > 0) mismatches.push(`int8Matmul ${M}x${K}x${N}${transposeB ? ' transposeB' : ''}: ${bad} of ${M * N} outputs differ`);
  }
}
// Full-range B: exact only where the engine does not saturate (what the probe decides).
const fullRangeExact = checkInt8(9, 129, 17, false, -128, 127) === 0;

for (const [M, K, N] of [[1, 1, 1], [3, 17, 16], [5, 790, 35], [2, 4100, 19], [4, 128, 33]]) {
  checked++;
  const x = Uint8Array.from({ length: M * K }, () => next() % 256);
  const w = Float32Array.from({ length: N * K }, () => (next() % 2 ? 1 : -1));
  const tx = sg.tensor(x, [M, K], { dtype: 'uint8' });
  const tw = sg.tensor(w, [N, K]);
  const bits = sg.packBits(tw);
  const c = sg.uint8BinaryMatmul(tx, bits);
  const got = c.dataSync().slice();
  [tx, tw, bits, c].forEach((t) => t.dispose());
  let bad = 0;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      if (got[m * N + n] !== s) bad++;
    }
  }
  if (bad > 0) mismatches.push(`uint8BinaryMatmul ${M}x${K}x${N}: ${bad} of ${M * N} outputs differ`);
}
console.log(JSON.stringify({ info, checked, mismatches, fullRangeExact }));
