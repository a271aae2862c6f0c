// f32 convolution kernels (assembly/conv.ts through src/kernels/conv.ts)
// against the scalar twin src/reference/conv.ts, bit for bit: im2col and
// col2im alone (canary-guarded buffers, row and channel sub-ranges), and the
// composed forward, input gradient and weight gradient, with small chunk
// sizes so that every chunk boundary and the accumulation across chunks run.
// The twin itself is checked against a float64 direct convolution.
import { beforeAll, describe, expect, it } from 'vitest';
import { init } from '../../src/runtime/loader.js';
import {
  conv2dF32, conv2dF32BackwardFilter, conv2dF32BackwardInput, convF32Col2im,
  convF32Depthwise, convF32DepthwiseBackwardInput, convF32DepthwiseBackwardFilter, convF32Im2col, CONV_F32_CHUNK_FLOATS, type ConvF32Shape,
  convF32Direct, convF32DirectPath, CONV_F32_DIRECT_MAX_K,
} from '../../src/kernels/conv.js';
import {
  conv2dF32BackwardFilterRef, conv2dF32BackwardInputRef, conv2dF32Ref, convF32Col2imRef, convF32Im2colRef,
  convF32DepthwiseRef, convF32DepthwiseBackwardInputRef, convF32DepthwiseBackwardFilterRef,
  convF32DirectRef, convF32DirectPath as convF32DirectPathRef,
} from '../../src/reference/conv.js';
import { gemmF32Ref } from '../../src/reference/gemm_f32.js';
import { windowGeometry, type Window2dOptions } from '../../src/ops/conv-geometry.js';
import { expectExact, Prng, withArena } from '../support/kernel-harness.js';
import { memoryStats, tensor, tidy } from '../../src/index.js';

beforeAll(async () => {
  await init();
});

interface Case { N: number; H: number; W: number; cin: number; cout: number; kh: number; kw: number; groups?: number; opts?: Window2dOptions }

function shapeOf(c: Case): ConvF32Shape {
  const g = windowGeometry('test', c.H, c.W, c.kh, c.kw, c.opts ?? {});
  return {
    N: c.N, inH: c.H, inW: c.W, cin: c.cin, cout: c.cout, groups: c.groups ?? 1, kh: c.kh, kw: c.kw,
    strideH: g.strideH, strideW: g.strideW, dilationH: g.dilationH, dilationW: g.dilationW,
    padTop: g.padTop, padLeft: g.padLeft, outH: g.outH, outW: g.outW,
  };
}

/** Shapes that break naive code: 1x1 images, windows larger than the input, odd strides, dilation, primes, groups, depthwise, N = 0. */
export const AWKWARD: Case[] = [
  { N: 1, H: 1, W: 1, cin: 1, cout: 1, kh: 1, kw: 1 },
  { N: 2, H: 1, W: 1, cin: 3, cout: 5, kh: 5, kw: 5, opts: { padding: 'same' } },
  { N: 2, H: 5, W: 7, cin: 3, cout: 5, kh: 3, kw: 3, opts: { padding: 'same' } },
  { N: 1, H: 7, W: 11, cin: 5, cout: 7, kh: 3, kw: 2, opts: { stride: [2, 3], padding: [[1, 0], [2, 3]] } },
  { N: 3, H: 9, W: 8, cin: 6, cout: 9, kh: 3, kw: 3, opts: { dilation: 2, padding: 'same', stride: 3 } },
  { N: 2, H: 13, W: 11, cin: 33, cout: 37, kh: 3, kw: 3, opts: { padding: 'same' } },
  { N: 1, H: 6, W: 6, cin: 6, cout: 4, kh: 3, kw: 3, groups: 2, opts: { padding: 'same', stride: 2 } },
  { N: 2, H: 5, W: 5, cin: 7, cout: 14, kh: 3, kw: 3, groups: 7, opts: { padding: 'same' } },
  { N: 2, H: 4, W: 5, cin: 6, cout: 9, kh: 1, kw: 1, groups: 3 },
  { N: 3, H: 5, W: 3, cin: 17, cout: 31, kh: 1, kw: 1 },
  { N: 2, H: 6, W: 5, cin: 4, cout: 3, kh: 1, kw: 1, opts: { stride: 2 } },
  { N: 0, H: 5, W: 5, cin: 3, cout: 4, kh: 3, kw: 3, opts: { padding: 'same' } },
  { N: 1, H: 4, W: 9, cin: 2, cout: 3, kh: 4, kw: 9, opts: { dilation: [1, 1] } },
  { N: 2, H: 8, W: 8, cin: 1, cout: 32, kh: 3, kw: 3, opts: { padding: 'same' } },
  { N: 1, H: 10, W: 3, cin: 3, cout: 2, kh: 2, kw: 3, opts: { dilation: [3, 1], padding: [[2, 5], [0, 4]], stride: [1, 2] } },
  // Cout a multiple of 8 with pixel-count tails, dilation, odd padding, K = 256 and 261 (one GEMM k-block and just over)
  { N: 3, H: 5, W: 5, cin: 3, cout: 16, kh: 3, kw: 3, opts: { padding: 'same', stride: 2 } },
  { N: 1, H: 6, W: 5, cin: 5, cout: 8, kh: 2, kw: 3, opts: { dilation: [2, 1], padding: [[1, 2], [0, 1]] } },
  { N: 2, H: 5, W: 3, cin: 16, cout: 24, kh: 4, kw: 4, opts: { padding: 'same' } },
  { N: 1, H: 3, W: 3, cin: 29, cout: 8, kh: 3, kw: 3, opts: { padding: 'same' } },
  { N: 1, H: 1, W: 1, cin: 2, cout: 8, kh: 3, kw: 3, opts: { padding: 'same' } },
  // depthwise (groups = Cin): channel tails of the 8- and 4-wide loops, multipliers 1 and 3, dilation, strides
  { N: 2, H: 7, W: 6, cin: 13, cout: 13, kh: 3, kw: 3, groups: 13, opts: { padding: 'same', stride: 2 } },
  { N: 1, H: 5, W: 5, cin: 8, cout: 8, kh: 5, kw: 5, groups: 8, opts: { padding: 'same', dilation: 2 } },
  { N: 3, H: 4, W: 5, cin: 4, cout: 12, kh: 2, kw: 3, groups: 4, opts: { padding: [[1, 0], [2, 1]], stride: [1, 2] } },
];

const label = (c: Case) => JSON.stringify(c);

/** float64 direct convolution, the independent definition. */
function direct(s: ConvF32Shape, x: Float32Array, w: Float32Array): Float64Array {
  const cg = s.cin / s.groups, og = s.cout / s.groups;
  const y = new Float64Array(s.N * s.outH * s.outW * s.cout);
  for (let n = 0; n < s.N; n++) for (let oh = 0; oh < s.outH; oh++) for (let ow = 0; ow < s.outW; ow++) for (let o = 0; o < s.cout; o++) {
    const g = Math.floor(o / og);
    let acc = 0;
    for (let i = 0; i < s.kh; i++) for (let j = 0; j < s.kw; j++) {
      const ih = oh * s.strideH - s.padTop + i * s.dilationH, iw = ow * s.strideW - s.padLeft + j * s.dilationW;
      if (ih < 0 || ih >= s.inH || iw < 0 || iw >= s.inW) continue;
      for (let c = 0; c < cg; c++) acc += x[((n * s.inH + ih) * s.inW + iw) * s.cin + g * cg + c] * w[((i * s.kw + j) * cg + c) * s.cout + o];
    }
    y[((n * s.outH + oh) * s.outW + ow) * s.cout + o] = acc;
  }
  return y;
}

function operands(s: ConvF32Shape, seed: number) {
  const rng = new Prng(seed);
  const x = rng.f32Array(s.N * s.inH * s.inW * s.cin);
  const w = rng.f32Array(s.kh * s.kw * (s.cin / s.groups) * s.cout);
  const dy = rng.f32Array(s.N * s.outH * s.outW * s.cout);
  return { x, w, dy };
}

describe('conv_f32_im2col / conv_f32_col2im', () => {
  it('match the twin bit for bit on row and channel sub-ranges, writing only their output', () => {
    let seed = 1;
    for (const c of AWKWARD) {
      const s = shapeOf(c);
      const rows = s.N * s.outH * s.outW;
      const rng = new Prng(seed++);
      const cg = s.cin / s.groups;
      const ranges: [number, number][] = [[0, rows], [Math.floor(rows / 3), rows - Math.floor(rows / 4)], [rows, rows]];
      for (const [r0, r1] of ranges) {
        for (const c0 of [0, s.cin - cg]) {
          const K = s.kh * s.kw * cg;
          const x = rng.f32Array(s.N * s.inH * s.inW * s.cin);
          const want = new Float32Array((r1 - r0) * K).fill(NaN);
          convF32Im2colRef(s, c0, cg, r0, r1, x, 0, want, 0);
          const got = withArena((arena) => {
            const px = arena.put(x), pc = arena.alloc(want.byteLength);
            convF32Im2col(s, c0, cg, r0, r1, px, pc);
            arena.checkGuards();
            return arena.readF32(pc, want.length);
          });
          expectExact(got, want, `im2col ${label(c)} rows [${r0}, ${r1}) c0 ${c0}`);

          const cols = rng.f32Array((r1 - r0) * K);
          const dx0 = rng.f32Array(x.length);
          const wantDx = dx0.slice();
          convF32Col2imRef(s, c0, cg, r0, r1, cols, 0, wantDx, 0);
          const gotDx = withArena((arena) => {
            const pc = arena.put(cols), pd = arena.put(dx0);
            convF32Col2im(s, c0, cg, r0, r1, pc, pd);
            return arena.readF32(pd, dx0.length);
          });
          expectExact(gotDx, wantDx, `col2im ${label(c)} rows [${r0}, ${r1}) c0 ${c0}`);
        }
      }
    }
  });

  it('reject row and channel ranges outside the shape before touching memory', () => {
    const s = shapeOf(AWKWARD[2]);
    expect(() => convF32Im2col(s, 1, 3, 0, 1, 0, 0)).toThrow(/convF32Im2col: channels \[1, 4\) must lie in \[0, 3\)/);
    expect(() => convF32Col2im(s, 0, 3, 0, 1000, 0, 0)).toThrow(/convF32Col2im: .*rows \[0, 1000\) in \[0, 70\)/);
  });
});

describe('depthwise kernels (conv_f32_dw__simd and its gradients)', () => {
  it('match their twins, and the twins the im2col + GEMM path, bit for bit (row sub-ranges, chunks of the weight gradient)', () => {
    let seed = 70;
    const eligible = AWKWARD.map(shapeOf).filter((s) => s.groups === s.cin && s.groups > 1);
    expect(eligible.length).toBeGreaterThanOrEqual(4);
    for (const s of eligible) {
      const rows = s.N * s.outH * s.outW;
      const { x, w, dy } = operands(s, seed++);
      const what = JSON.stringify(s);
      for (const chunk of [1 << 18, 1, 37]) {
        const chunkRows = Math.max(1, Math.floor(chunk / (s.kh * s.kw * s.cin)));
        const y = new Float32Array(rows * s.cout), dx = new Float32Array(x.length), dw = new Float32Array(w.length);
        convF32DepthwiseRef(s, 0, rows, x, w, y);
        convF32DepthwiseBackwardInputRef(s, 0, rows, dy, w, dx);
        convF32DepthwiseBackwardFilterRef(s, chunkRows, x, dy, dw);
        expectExact(y, conv2dF32Ref(s, x, w, chunk), `twin forward ${what}`);
        expectExact(dx, conv2dF32BackwardInputRef(s, dy, w, chunk), `twin dx ${what}`);
        if (rows > 0) expectExact(dw, conv2dF32BackwardFilterRef(s, x, dy, chunk), `twin dw ${what} chunk ${chunk}`);
        const [r0, r1] = [Math.min(1, rows), Math.max(Math.min(1, rows), rows - 2)];
        withArena((arena) => {
          const px = arena.put(x), pw = arena.put(w), pdy = arena.put(dy);
          const py = arena.put(new Float32Array(y.length).fill(-3));
          convF32Depthwise(s, r0, r1, px, pw, py);
          const wantY = new Float32Array(y.length).fill(-3);
          convF32DepthwiseRef(s, r0, r1, x, w, wantY);
          expectExact(arena.readF32(py, y.length), wantY, `forward ${what} rows [${r0}, ${r1})`);
          const dx0 = new Prng(seed).f32Array(x.length);
          const pdx = arena.put(dx0);
          convF32DepthwiseBackwardInput(s, r0, r1, pdy, pw, pdx);
          const wantDx = dx0.slice();
          convF32DepthwiseBackwardInputRef(s, r0, r1, dy, w, wantDx);
          expectExact(arena.readF32(pdx, x.length), wantDx, `dx ${what} rows [${r0}, ${r1})`);
          const pdw = arena.put(new Float32Array(w.length).fill(-3));
          convF32DepthwiseBackwardFilter(s, chunkRows, px, pdy, pdw);
          if (rows > 0) expectExact(arena.readF32(pdw, w.length), dw, `dw ${what} chunk rows ${chunkRows}`);
        });
      }
    }
  });
});

/** The im2col + GEMM path's forward, composed from the twins whatever path conv2d takes for the shape (groups = 1, one chunk). */
function gemmPathRef(s: ConvF32Shape, x: Float32Array, w: Float32Array): Float32Array {
  const rows = s.N * s.outH * s.outW, K = s.kh * s.kw * s.cin;
  const cols = new Float32Array(rows * K), y = new Float32Array(rows * s.cout);
  convF32Im2colRef(s, 0, s.cin, 0, rows, x, 0, cols, 0);
  if (rows > 0) {
    gemmF32Ref({ transA: false, transB: false, accumulate: false, M: rows, N: s.cout, K, a: 0, lda: K, b: 0, ldb: s.cout, c: 0, ldc: s.cout,
                 batch: 1, strideA: 0, strideB: 0, strideC: 0, m0: 0, m1: rows, n0: 0, n1: s.cout }, cols, w, y);
  }
  return y;
}

describe('direct kernel (conv_f32_direct__simd)', () => {
  const C = (N: number, H: number, W: number, cin: number, cout: number, kh: number, kw: number, opts: Window2dOptions = {}): Case => ({ N, H, W, cin, cout, kh, kw, opts });
  const cases: Case[] = [
    ...AWKWARD.filter((c) => (c.groups ?? 1) === 1 && c.kh * c.kw * c.cin <= CONV_F32_DIRECT_MAX_K),
    // Cout 1, 3, 5, 32, 33 (channel tails after the 8-wide tile), pixel counts not a multiple of 4
    ...[1, 3, 5, 32, 33].map((cout) => C(2, 5, 7, 3, cout, 3, 3, { padding: 'same' })),
    C(1, 1, 1, 4, 8, 1, 1),
    C(1, 2, 3, 1, 16, 5, 5, { padding: 'same' }),
    C(3, 11, 9, 2, 24, 3, 3, { stride: [3, 2], padding: 'same' }),
    C(2, 12, 13, 4, 8, 3, 2, { dilation: [2, 3], padding: [[3, 1], [0, 5]] }),
    C(1, 9, 17, 1, 32, 3, 3, { padding: 'same' }),
    // one channel: the adjacent-pixel path (unit column stride, Cout % 8 == 0) and the general one (stride 2, Cout 33)
    C(2, 6, 11, 1, 16, 3, 3, { padding: [[0, 2], [1, 0]], dilation: [2, 1] }),
    C(2, 7, 13, 1, 24, 2, 3, { stride: [1, 2] }),
    C(1, 6, 11, 1, 33, 3, 3, { padding: 'same' }),
    C(1, 4, 4, 28, 8, 3, 3, { padding: 'valid' }),
    C(0, 4, 4, 3, 8, 3, 3, { padding: 'same' }),
  ];

  it('matches its twin and the im2col + GEMM path bit for bit, on pixel sub-ranges, writing only their rows', () => {
    let seed = 300;
    for (const c of cases) {
      const s = shapeOf(c);
      const rows = s.N * s.outH * s.outW;
      const { x, w } = operands(s, seed++);
      if (seed % 3 === 0 && w.length > 0) w[0] = Infinity; // padding taps must be products with 0 (NaN here), as in the GEMM path
      const what = label(c);
      const full = new Float32Array(rows * s.cout);
      convF32DirectRef(s, 0, rows, x, w, full);
      expectExact(full, gemmPathRef(s, x, w), `twin vs GEMM path ${what}`);
      const ranges: [number, number][] = [[0, rows], [Math.min(1, rows), Math.max(Math.min(1, rows), rows - 2)], [rows, rows]];
      for (const [r0, r1] of ranges) {
        const want = new Float32Array(rows * s.cout).fill(-7);
        convF32DirectRef(s, r0, r1, x, w, want);
        const got = withArena((arena) => {
          const px = arena.put(x), pw = arena.put(w), py = arena.put(new Float32Array(rows * s.cout).fill(-7));
          convF32Direct(s, r0, r1, px, pw, py);
          arena.checkGuards();
          return arena.readF32(py, rows * s.cout);
        });
        expectExact(got, want, `direct ${what} rows [${r0}, ${r1})`);
      }
    }
  });

  it('conv2d takes it by shape alone, with the same rule as the twin, and keeps the bits of the GEMM path', () => {
    const shapes = cases.map(shapeOf);
    expect(shapes.filter(convF32DirectPath).length).toBeGreaterThanOrEqual(6);
    expect(shapes.filter((s) => !convF32DirectPath(s)).length).toBeGreaterThanOrEqual(6);
    let seed = 400;
    for (const s of shapes) {
      expect(convF32DirectPathRef(s), JSON.stringify(s)).toBe(convF32DirectPath(s));
      const { x, w } = operands(s, seed++);
      const got = tidy(() => conv2dF32(tensor(x, [s.N, s.inH, s.inW, s.cin]), tensor(w, [s.kh, s.kw, s.cin, s.cout]), s).dataSync());
      expectExact(got, gemmPathRef(s, x, w), `conv2d ${JSON.stringify(s)}`);
    }
  });

  it('rejects groups, K over one k-block and out-of-range pixels before touching memory', () => {
    const grouped = shapeOf(AWKWARD[6]);
    expect(() => convF32Direct(grouped, 0, 1, 0, 0, 0)).toThrow(/convF32Direct: needs groups = 1 and kh·kw·Cin <= 256/);
    const wide = shapeOf(C(1, 3, 3, 29, 8, 3, 3, { padding: 'same' }));
    expect(() => convF32Direct(wide, 0, 1, 0, 0, 0)).toThrow(/convF32Direct: needs groups = 1/);
    const s = shapeOf(C(1, 3, 3, 3, 8, 3, 3, { padding: 'same' }));
    expect(() => convF32Direct(s, 0, 10, 0, 0, 0)).toThrow(/convF32Direct: .*rows \[0, 10\) in \[0, 9\)/);
    expect(() => convF32Direct(s, 2, 1, 0, 0, 0)).toThrow(/convF32Direct: /);
  });
});

describe('conv2d f32 binding (forward, input gradient, weight gradient)', () => {
  it('the twin agrees with a float64 direct convolution', () => {
    let seed = 100;
    for (const c of AWKWARD) {
      const s = shapeOf(c);
      const { x, w } = operands(s, seed++);
      const y = conv2dF32Ref(s, x, w, CONV_F32_CHUNK_FLOATS);
      const want = direct(s, x, w);
      const K = s.kh * s.kw * s.cin / s.groups;
      // recursive summation of K products of values in [-1, 1]: |error| <= K·2^-24·K (generous)
      for (let i = 0; i < y.length; i++) expect(Math.abs(y[i] - want[i]), `${label(c)} element ${i}`).toBeLessThanOrEqual(K * K * 2 ** -23 + 1e-7);
    }
  });

  it('match the twin bit for bit, at the default chunk size and at chunks of a few rows', () => {
    let seed = 200;
    for (const c of AWKWARD) {
      const s = shapeOf(c);
      const { x, w, dy } = operands(s, seed++);
      for (const chunk of [CONV_F32_CHUNK_FLOATS, 1, 37, 200]) {
        const what = `${label(c)} chunk ${chunk}`;
        tidy(() => {
          const tx = tensor(x, [s.N, s.inH, s.inW, s.cin]);
          const tw = tensor(w, [s.kh, s.kw, s.cin / s.groups, s.cout]);
          const tdy = tensor(dy, [s.N, s.outH, s.outW, s.cout]);
          expectExact(conv2dF32(tx, tw, s, chunk).dataSync(), conv2dF32Ref(s, x, w, chunk), `forward ${what}`);
          expectExact(conv2dF32BackwardInput(tdy, tw, s, chunk).dataSync(), conv2dF32BackwardInputRef(s, dy, w, chunk), `dx ${what}`);
          expectExact(conv2dF32BackwardFilter(tx, tdy, s, chunk).dataSync(), conv2dF32BackwardFilterRef(s, x, dy, chunk), `dw ${what}`);
        });
      }
    }
  });

  it('a chunked convolution frees its workspace and leaves alive only its result', () => {
    const s = shapeOf(AWKWARD[5]);
    const { x, w, dy } = operands(s, 7);
    const tx = tensor(x, [s.N, s.inH, s.inW, s.cin]);
    const tw = tensor(w, [s.kh, s.kw, s.cin / s.groups, s.cout]);
    const tdy = tensor(dy, [s.N, s.outH, s.outW, s.cout]);
    const before = memoryStats();
    for (const run of [() => conv2dF32(tx, tw, s, 50), () => conv2dF32BackwardInput(tdy, tw, s, 50), () => conv2dF32BackwardFilter(tx, tdy, s, 50)]) {
      const out = run();
      expect(memoryStats().tensorsAlive).toBe(before.tensorsAlive + 1);
      out.dispose();
      expect(memoryStats()).toEqual(before);
    }
    for (const t of [tx, tw, tdy]) t.dispose();
  });
});
