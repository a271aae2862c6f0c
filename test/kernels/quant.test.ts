// assembly/quant.ts against src/reference/quant.ts: IEEE basic operations
// and wasm `nearest` (round half to even), so results must match exactly.
import { beforeAll, describe, test } from 'vitest';
import { f32FakeQuantBackwardRef, f32FakeQuantRef, f32TernarizeRef } from '../../src/reference/quant.js';
import { init } from '../../src/runtime/loader.js';
import { expectExact, kernels, Prng, SIZES, run2, run3 } from '../support/kernel-harness.js';

beforeAll(async () => {
  await init();
});

describe('f32_ternarize', () => {
  test('every size; |x| == t maps to 0', () => {
    const rng = new Prng(50);
    for (const n of SIZES) {
      for (const t of [0, 0.05, 0.5, 1, 0.7]) {
        const x = rng.f32WithSpecials(n, -2, 2, [t, -t, Math.fround(t), 0, -0, Infinity, -Infinity, NaN], 0.3);
        const want = new Float32Array(n);
        f32TernarizeRef(x, want, t);
        expectExact(run2((px, py) => kernels().f32_ternarize(px, py, n, t), x), want, `f32_ternarize t=${t} n=${n}`, [x]);
      }
    }
  });
});

const QUANT_PARAMS: [number, number, number, number][] = [
  // scale, zeroPoint, qmin, qmax
  [1, 0, -128, 127],
  [0.1, 0, -128, 127],
  [1 / 127, 0, -127, 127],
  [0.05, 3, 0, 255],
  [0.25, -7, -8, 7],
  [2, 0, -1, 1],
  [0.02, 128, 0, 255],
];

/** Values on and beside exact ties (x/scale = k + 0.5) and the clamping edges. */
function quantInputs(rng: Prng, n: number, scale: number, zp: number, qmin: number, qmax: number): Float32Array {
  const x = rng.f32Array(n, (qmin - zp - 3) * scale, (qmax - zp + 3) * scale);
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    const k = rng.int(qmin - zp - 2, qmax - zp + 3);
    if (r < 0.2) x[i] = (k + 0.5) * scale;
    else if (r < 0.3) x[i] = k * scale;
    else if (r < 0.4) x[i] = rng.pick([qmin - zp - 0.5, qmax - zp + 0.5, qmin - zp, qmax - zp, qmin - zp - 0.51, qmax - zp + 0.49]) * scale;
    else if (r < 0.45) x[i] = rng.pick([0, -0, 1e30, -1e30, Infinity, -Infinity]);
  }
  return x;
}

describe('f32_fake_quant and its backward', () => {
  test('every size and parameter set: ties to even, clamping edges, zero point', () => {
    const rng = new Prng(60);
    for (const [scale, zp, qmin, qmax] of QUANT_PARAMS) {
      for (const n of SIZES) {
        const x = quantInputs(rng, n, scale, zp, qmin, qmax);
        const dy = rng.f32Array(n, -2, 2);
        const want = new Float32Array(n);
        f32FakeQuantRef(x, want, scale, zp, qmin, qmax);
        const what = `scale=${scale} zp=${zp} [${qmin}, ${qmax}] n=${n}`;
        expectExact(run2((px, py) => kernels().f32_fake_quant(px, py, n, scale, zp, qmin, qmax), x), want, `f32_fake_quant ${what}`, [x]);
        const wantDx = new Float32Array(n);
        f32FakeQuantBackwardRef(x, dy, wantDx, scale, zp, qmin, qmax);
        expectExact(run3((px, pdy, pdx) => kernels().f32_fake_quant_backward(px, pdy, pdx, n, scale, zp, qmin, qmax), x, dy), wantDx,
          `f32_fake_quant_backward ${what}`, [x, dy]);
      }
    }
  });

  test('documented values at the clamping edges (scale 1, zero point 0, [-2, 2])', () => {
    const x = new Float32Array([-2.5, -2.51, 2.5, 2.51, 1.5, -1.5, 0.5, 3, -3]);
    expectExact(run2((px, py) => kernels().f32_fake_quant(px, py, 9, 1, 0, -2, 2), x), [-2, -2, 2, 2, 2, -2, 0, 2, -2], 'forward');
    const dy = new Float32Array(9).fill(1);
    // -2.5 rounds to -2 (inside), -2.51 to -3 (clamped), 2.5 to 2 (inside), 2.51 to 3 (clamped).
    expectExact(run3((px, pdy, pdx) => kernels().f32_fake_quant_backward(px, pdy, pdx, 9, 1, 0, -2, 2), x, dy), [1, 0, 1, 0, 1, 1, 1, 0, 0], 'backward');
  });
});
