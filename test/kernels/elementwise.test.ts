// assembly/elementwise.ts against its scalar twin src/reference/elementwise.ts.
//
// Tolerances: ops built from IEEE basic operations (neg, relu, square, sqrt,
// abs, every backward rule, affine, clip, axpy, the binary ops, conversions)
// must match exactly. exp, log and tanh come from AssemblyScript's Mathf in
// the kernel (ports of musl's expf/logf/tanhf, documented below 1-2.5 ulp of
// error) and from the engine's float64 Math rounded once in the twin
// (within 0.5 ulp + the float64 error), so the two can differ by the sum of
// their errors: 2 ulps for exp and log, 3 for tanh. sigmoid = 1/(1 + exp(-x))
// inherits exp's difference through one add and one divide: 3 ulps. Measured
// over 200k points on this build: exp 1, log 1, tanh 2, sigmoid 2 ulps.
import { beforeAll, describe, expect, test } from 'vitest';
import * as sg from '../../src/index.js';
import { Binary, Unary } from '../../src/kernels/codes.generated.js';
import { broadcastShapes, broadcastStrides } from '../../src/ops/broadcast.js';
import { collapseAxes } from '../../src/kernels/internal/strided.js';
import {
  f32AffineRef, f32AxpyRef, f32BinaryRef, f32ClipRef, f32CountNaNRef, f32ToI32Ref, toI32Ref, toF32Ref, f32UnaryBackwardRef, f32UnaryRef,
} from '../../src/reference/elementwise.js';
import { init } from '../../src/runtime/loader.js';
import { expectClose, expectExact, kernels, Prng, SIZES, stridesOf, withArena } from '../support/kernel-harness.js';

beforeAll(async () => {
  await init();
});

const TOLERANCE: Record<string, number> = { exp: 2, log: 2, tanh: 3, sigmoid: 3, softplus: 3, logSigmoid: 3 };
// Backward rules that call exp themselves (engine Math vs Mathf): ulps, the others exact.
const GRAD_TOLERANCE: Record<string, number> = { softplus: 2, logSigmoid: 2 };
const SPECIALS = [0, -0, 1, -1, 0.5, -0.5, 2, 1e-40, -1e-40, 1e-30, 88, -88, 89, -104, 1e4, -1e4, 3.4e38, -3.4e38, Infinity, -Infinity, NaN];

/** Inputs suited to each op's domain: log gets mostly positive values over many magnitudes. */
function unaryInputs(name: string, rng: Prng, n: number): Float32Array {
  if (name === 'log') {
    const x = rng.f32WithSpecials(n, 0, 1, [0, -0, -1, 1, 1e-40, 3.4e38, Infinity, NaN]);
    for (let i = 0; i < n; i++) if (x[i] > 0 && rng.bool(0.5)) x[i] = Math.exp(rng.float(-80, 80));
    return x;
  }
  const specials = name === 'relu' ? SPECIALS.filter((v) => v === v) : SPECIALS;
  const x = rng.f32WithSpecials(n, -10, 10, specials);
  for (let i = 0; i < n; i++) if (rng.bool(0.2)) x[i] = rng.float(-0.01, 0.01);
  return x;
}

describe('f32_unary', () => {
  for (const [name, op] of Object.entries(Unary)) {
    test(`${name}: every size, random and special inputs`, () => {
      const rng = new Prng(100 + op);
      for (const n of SIZES) {
        for (let rep = 0; rep < 4; rep++) {
          const x = unaryInputs(name, rng, n);
          const want = new Float32Array(n);
          f32UnaryRef(op, x, want);
          const got = withArena((a) => {
            const px = a.put(x);
            const py = a.alloc(4 * n);
            kernels().f32_unary(op, px, py, n);
            return a.readF32(py, n);
          });
          const what = `f32_unary ${name} n=${n}`;
          if (name in TOLERANCE) expectClose(got, want, what, { ulps: TOLERANCE[name] }, [x]);
          else expectExact(got, want, what, [x]);
        }
      }
    });
  }

  test('unary ops can run in place (y = x)', () => {
    const rng = new Prng(7);
    for (const op of Object.values(Unary)) {
      const x = rng.f32Array(37, 0.1, 5);
      const want = new Float32Array(37);
      f32UnaryRef(op, x, want);
      const got = withArena((a) => {
        const px = a.put(x);
        kernels().f32_unary(op, px, px, 37);
        return a.readF32(px, 37);
      });
      expectClose(got, want, `in-place op ${op}`, { ulps: 3 });
    }
  });

  test('relu(NaN) is NaN wherever the element sits (SIMD body and scalar tail agree)', () => {
    // 5 elements: indices 0-3 take the SIMD body, index 4 the scalar tail.
    const x = new Float32Array([NaN, 1, -1, 0, NaN]);
    const want = new Float32Array(5);
    f32UnaryRef(Unary.relu, x, want);
    const got = withArena((a) => {
      const px = a.put(x);
      const py = a.alloc(20);
      kernels().f32_unary(Unary.relu, px, py, 5);
      return a.readF32(py, 5);
    });
    expectExact(got, want, 'relu with NaN', [x]);
  });

  test('measured exp/log/tanh/sigmoid differences stay within the stated ulps over a dense sweep', () => {
    const n = 20000;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = -100 + (200 * i) / n;
    for (const name of ['exp', 'tanh', 'sigmoid'] as const) {
      const op = Unary[name];
      const want = new Float32Array(n);
      f32UnaryRef(op, x, want);
      const got = withArena((a) => {
        const px = a.put(x);
        const py = a.alloc(4 * n);
        kernels().f32_unary(op, px, py, n);
        return a.readF32(py, n);
      });
      expectClose(got, want, `sweep ${name}`, { ulps: TOLERANCE[name] }, [x]);
    }
    const pos = new Float32Array(n);
    for (let i = 0; i < n; i++) pos[i] = Math.exp(-87 + (175 * i) / n);
    const want = new Float32Array(n);
    f32UnaryRef(Unary.log, pos, want);
    const got = withArena((a) => {
      const px = a.put(pos);
      const py = a.alloc(4 * n);
      kernels().f32_unary(Unary.log, px, py, n);
      return a.readF32(py, n);
    });
    expectClose(got, want, 'sweep log', { ulps: TOLERANCE.log }, [pos]);
  });
});

describe('f32_unary_backward', () => {
  for (const [name, op] of Object.entries(Unary)) {
    test(`${name}: exact for every size (given the forward output y)`, () => {
      const rng = new Prng(200 + op);
      for (const n of SIZES) {
        for (let rep = 0; rep < 3; rep++) {
          const x = unaryInputs(name, rng, n);
          const y = new Float32Array(n);
          f32UnaryRef(op, x, y);
          const dy = rng.f32WithSpecials(n, -3, 3, [0, -0, 1, Infinity, NaN], 0.05);
          const want = new Float32Array(n);
          f32UnaryBackwardRef(op, x, y, dy, want);
          const got = withArena((a) => {
            const px = a.put(x);
            const py = a.put(y);
            const pdy = a.put(dy);
            const pdx = a.alloc(4 * n);
            kernels().f32_unary_backward(op, px, py, pdy, pdx, n);
            return a.readF32(pdx, n);
          });
          const what = `f32_unary_backward ${name} n=${n}`;
          if (name in GRAD_TOLERANCE) expectClose(got, want, what, { ulps: GRAD_TOLERANCE[name] }, [x, y, dy]);
          else expectExact(got, want, what, [x, y, dy]);
        }
      }
    });
  }
});

describe('affine, clip, axpy, fill, count_nan', () => {
  test('f32_affine: y = a*x + b exactly, every size', () => {
    const rng = new Prng(301);
    for (const n of SIZES) {
      for (const [a, b] of [[1, 0], [-1, 0], [2.5, -0.75], [0, 3], [1e-3, 1e3], [rng.float(-5, 5), rng.float(-5, 5)]]) {
        const x = rng.f32WithSpecials(n, -100, 100, SPECIALS);
        const want = new Float32Array(n);
        f32AffineRef(x, want, a, b);
        const got = withArena((ar) => {
          const px = ar.put(x);
          const py = ar.alloc(4 * n);
          kernels().f32_affine(px, py, n, a, b);
          return ar.readF32(py, n);
        });
        expectExact(got, want, `f32_affine a=${a} b=${b} n=${n}`, [x]);
      }
    }
  });

  test('f32_clip: bounds, -0, NaN stays NaN', () => {
    const rng = new Prng(302);
    for (const n of SIZES) {
      for (const [lo, hi] of [[-1, 1], [0, 6], [-0.5, -0.5], [0.1, 0.2], [-Infinity, 0]]) {
        const x = rng.f32WithSpecials(n, -3, 3, [...SPECIALS, lo, hi]);
        const want = new Float32Array(n);
        f32ClipRef(x, want, lo, hi);
        const got = withArena((a) => {
          const px = a.put(x);
          const py = a.alloc(4 * n);
          kernels().f32_clip(px, py, n, lo, hi);
          return a.readF32(py, n);
        });
        expectExact(got, want, `f32_clip [${lo}, ${hi}] n=${n}`, [x]);
      }
    }
  });

  test('f32_axpy: y += a*x in place, every size', () => {
    const rng = new Prng(303);
    for (const n of SIZES) {
      for (const alpha of [1, -0.01, 3.75, 0]) {
        const x = rng.f32WithSpecials(n, -10, 10, SPECIALS, 0.05);
        const y = rng.f32Array(n, -10, 10);
        const want = y.slice();
        f32AxpyRef(want, x, alpha);
        const got = withArena((a) => {
          const px = a.put(x);
          const py = a.put(y);
          kernels().f32_axpy(py, px, n, alpha);
          return a.readF32(py, n);
        });
        expectExact(got, want, `f32_axpy a=${alpha} n=${n}`, [y, x]);
      }
    }
  });

  test('f32_fill and i32_fill write exactly n elements', () => {
    for (const n of SIZES) {
      withArena((a) => {
        const p = a.alloc(4 * n);
        kernels().f32_fill(p, n, -0);
        expectExact(a.readF32(p, n), new Float32Array(n).fill(-0), `f32_fill -0 n=${n}`);
        kernels().f32_fill(p, n, 1.1);
        expectExact(a.readF32(p, n), new Float32Array(n).fill(1.1), `f32_fill 1.1 n=${n}`);
        kernels().i32_fill(p, n, -123456789);
        expectExact(a.readI32(p, n), new Int32Array(n).fill(-123456789), `i32_fill n=${n}`);
      });
    }
  });

  test('f32_count_nan counts NaNs (not infinities)', () => {
    const rng = new Prng(304);
    for (const n of SIZES) {
      const x = rng.f32WithSpecials(n, -1, 1, [NaN, Infinity, -Infinity, 0], 0.3);
      const got = withArena((a) => kernels().f32_count_nan(a.put(x), n));
      expect(got, `n=${n}`).toBe(f32CountNaNRef(x));
    }
  });
});

describe('dtype conversions', () => {
  test('u8/i8/i32 -> f32, every size, also in place over the same start', () => {
    const rng = new Prng(401);
    for (const n of SIZES) {
      const u8 = Uint8Array.from({ length: n }, () => rng.int(0, 256));
      const i8 = Int8Array.from({ length: n }, () => rng.int(-128, 128));
      const i32 = Int32Array.from({ length: n }, () => rng.pick([rng.int(-1000, 1000), rng.int(-(2 ** 31), 2 ** 31), 16777217, -2147483648, 2147483647]));
      for (const [name, data] of [['u8_to_f32', u8], ['i8_to_f32', i8], ['i32_to_f32', i32]] as const) {
        const want = new Float32Array(n);
        toF32Ref(data, want);
        const [got, inPlace] = withArena((a) => {
          const px = a.put(data);
          const py = a.alloc(4 * n);
          kernels()[name](px, py, n);
          // The same conversion with y starting where x starts (the kernels are written to allow it).
          const pio = a.alloc(4 * n);
          a.write(pio, data);
          kernels()[name](pio, pio, n);
          return [a.readF32(py, n), a.readF32(pio, n)];
        });
        expectExact(got, want, `${name} n=${n}`, [data]);
        expectExact(inPlace, want, `${name} in place n=${n}`, [data]);
      }
    }
  });

  test('u8/i8 -> i32 widen exactly, every size, also in place', () => {
    const rng = new Prng(403);
    for (const n of SIZES) {
      const u8 = Uint8Array.from({ length: n }, () => rng.int(0, 256));
      const i8 = Int8Array.from({ length: n }, () => rng.int(-128, 128));
      for (const [name, data] of [['u8_to_i32', u8], ['i8_to_i32', i8]] as const) {
        const want = new Int32Array(n);
        toI32Ref(data, want);
        const [got, inPlace] = withArena((a) => {
          const px = a.put(data);
          const py = a.alloc(4 * n);
          kernels()[name](px, py, n);
          const pio = a.alloc(4 * n);
          a.write(pio, data);
          kernels()[name](pio, pio, n);
          return [a.readI32(py, n), a.readI32(pio, n)];
        });
        expect(Array.from(got), `${name} n=${n}`).toEqual(Array.from(want));
        expect(Array.from(inPlace), `${name} in place n=${n}`).toEqual(Array.from(want));
      }
    }
  });

  test('f32_to_i32 truncates toward zero and saturates; NaN gives 0', () => {
    const rng = new Prng(402);
    const specials = [0, -0, 0.5, -0.5, 1.99, -1.99, 2147483520, -2147483648, 2147483648, -2147483904, 3e9, -3e9, Infinity, -Infinity, NaN];
    for (const n of SIZES) {
      const x = rng.f32WithSpecials(n, -1e6, 1e6, specials, 0.3);
      const want = new Int32Array(n);
      f32ToI32Ref(x, want);
      const got = withArena((a) => {
        const px = a.put(x);
        const py = a.alloc(4 * n);
        kernels().f32_to_i32(px, py, n);
        return a.readI32(py, n);
      });
      expectExact(got, want, `f32_to_i32 n=${n}`, [x]);
    }
  });
});

// ---- binary with broadcasting -------------------------------------------

const DIM_CHOICES = [0, 1, 1, 2, 3, 4, 5, 7, 8, 13, 31, 33];

interface Case { outShape: number[]; aShape: number[]; bShape: number[] }

/** A random output shape of rank 1-5 (at most ~3000 elements) and two operand shapes that broadcast to it. */
function randomCase(rng: Prng): Case {
  for (;;) {
    const rank = rng.int(1, 6);
    const outShape = Array.from({ length: rank }, () => rng.pick(DIM_CHOICES));
    if (outShape.reduce((p, d) => p * d, 1) > 3000) continue;
    const operand = (): number[] => {
      const drop = rng.bool(0.3) ? rng.int(0, rank) : 0;
      return outShape.slice(drop).map((d) => (rng.bool(0.3) ? 1 : d));
    };
    let aShape = operand();
    let bShape = operand();
    if (rng.bool(0.15)) aShape = [...outShape];
    if (rng.bool(0.15)) bShape = [...outShape];
    // A size-0 axis must come from an operand: keep the shapes consistent with outShape.
    const bs = broadcastShapes(aShape, bShape, 'test');
    if (bs.length !== rank || bs.some((d, i) => d !== outShape[i])) continue;
    return { outShape, aShape, bShape };
  }
}

/** Mostly small integers so that ties (maximum/minimum) and exact cancellations occur, plus specials. */
function binaryInputs(rng: Prng, n: number): Float32Array {
  const x = rng.f32WithSpecials(n, -4, 4, [0, -0, 1e-40, 3.4e38, -3.4e38, Infinity, -Infinity, NaN], 0.08);
  for (let i = 0; i < n; i++) if (rng.bool(0.3)) x[i] = rng.int(-2, 3);
  return x;
}

const size = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

function runBinaryKernel(op: number, a: Float32Array, b: Float32Array, dims: number[], sa: number[], sb: number[]): Float32Array {
  const n = size(dims);
  return withArena((ar) => {
    const pa = ar.put(a);
    const pb = ar.put(b);
    const po = ar.alloc(4 * n);
    kernels().f32_binary(op, pa, pb, po, dims.length, ar.i32(dims), ar.i32(sa), ar.i32(sb));
    return ar.readF32(po, n);
  });
}

// pow and its gradient ops run float32 Mathf.pow; the twin rounds float64 Math.pow once.
const BINARY_ULPS: Record<number, number> = { [Binary.pow]: 2, [Binary.powDbase]: 4, [Binary.powDexp]: 4 };

function expectBinary(op: number, got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  if (op in BINARY_ULPS) expectClose(got, want, what, { ulps: BINARY_ULPS[op] });
  else expectExact(got, want, what);
}

describe('f32_binary with broadcasting', () => {
  for (const [name, op] of Object.entries(Binary)) {
    test(`${name}: 150 random shape pairs, raw strides and collapsed axes`, () => {
      const rng = new Prng(500 + op);
      for (let c = 0; c < 150; c++) {
        const { outShape, aShape, bShape } = randomCase(rng);
        const a = binaryInputs(rng, size(aShape));
        const b = binaryInputs(rng, size(bShape));
        const sa = broadcastStrides(aShape, outShape);
        const sb = broadcastStrides(bShape, outShape);
        const want = new Float32Array(size(outShape));
        f32BinaryRef(op, a, b, want, outShape, sa, sb);
        const what = `f32_binary ${name} [${aShape}] x [${bShape}] -> [${outShape}]`;
        expectBinary(op, runBinaryKernel(op, a, b, outShape, sa, sb), want, `${what} (uncollapsed)`);
        const col = collapseAxes(outShape, [sa, sb]);
        if (col.dims.every((d) => d > 0)) {
          expectBinary(op, runBinaryKernel(op, a, b, col.dims, col.strides[0], col.strides[1]), want, `${what} (collapsed)`);
        }
      }
    });

    test(`${name}: operands read through transposed (non-unit) strides`, () => {
      const rng = new Prng(600 + op);
      for (let c = 0; c < 60; c++) {
        const rows = rng.pick([1, 2, 3, 5, 8, 13]);
        const cols = rng.pick([1, 2, 3, 4, 5, 7, 9, 33]);
        const dims = [rows, cols];
        // a is stored [cols, rows] and read transposed; b is a row or column vector or full.
        const a = binaryInputs(rng, rows * cols);
        const sa = [1, rows];
        const bKind = rng.int(0, 3);
        const b = binaryInputs(rng, bKind === 0 ? cols : bKind === 1 ? rows : rows * cols);
        const sb = bKind === 0 ? [0, 1] : bKind === 1 ? [1, 0] : stridesOf(dims);
        const want = new Float32Array(rows * cols);
        f32BinaryRef(op, a, b, want, dims, sa, sb);
        expectBinary(op, runBinaryKernel(op, a, b, dims, sa, sb), want, `f32_binary ${name} transposed a ${rows}x${cols} b kind ${bKind}`);
      }
    });
  }

  test('every size on the contiguous, scalar-b and scalar-a paths', () => {
    const rng = new Prng(650);
    for (const op of Object.values(Binary)) {
      for (const n of SIZES) {
        if (n === 0) continue;
        for (const [sa, sb] of [[1, 1], [1, 0], [0, 1], [0, 0]]) {
          const a = binaryInputs(rng, sa ? n : 1);
          const b = binaryInputs(rng, sb ? n : 1);
          const want = new Float32Array(n);
          f32BinaryRef(op, a, b, want, [n], [sa], [sb]);
          expectBinary(op, runBinaryKernel(op, a, b, [n], [sa], [sb]), want, `f32_binary op ${op} n=${n} strides ${sa},${sb}`);
        }
      }
    }
  });

  test('public add/sub/mul/div/maximum/minimum match the twin on 120 random broadcasts', () => {
    const rng = new Prng(700);
    const fns = { add: sg.add, sub: sg.sub, mul: sg.mul, div: sg.div, maximum: sg.maximum, minimum: sg.minimum };
    for (let c = 0; c < 120; c++) {
      const { outShape, aShape, bShape } = randomCase(rng);
      const name = rng.pick(Object.keys(fns)) as keyof typeof fns;
      const a = binaryInputs(rng, size(aShape));
      const b = binaryInputs(rng, size(bShape));
      const want = new Float32Array(size(outShape));
      f32BinaryRef(Binary[name], a, b, want, outShape, broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape));
      const ta = sg.tensor(a, aShape);
      const tb = sg.tensor(b, bShape);
      const y = fns[name](ta, tb);
      expect(y.shape, `${name} shape`).toEqual(outShape);
      expectExact(y.dataSync() as Float32Array, want, `sg.${name} [${aShape}] x [${bShape}]`);
      ta.dispose();
      tb.dispose();
      y.dispose();
    }
  });

  test('public binary ops reject shapes that do not broadcast and disposed tensors', () => {
    const a = sg.zeros([2, 3]);
    const b = sg.zeros([4]);
    expect(() => sg.add(a, b)).toThrow(/add.*\[2,3\].*\[4\]/);
    expect(() => sg.maximum(b, a)).toThrow(/maximum/);
    b.dispose();
    expect(() => sg.mul(a, b)).toThrow(/dispose/i);
    a.dispose();
  });
});
