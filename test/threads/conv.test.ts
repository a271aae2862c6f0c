// The conv, binary-conv and pooling kernels give the same bits at 1, 2, 3 and
// 4 threads, and the bits of their scalar twins, on shapes that break naive
// tilings: N = 1, primes, pixel counts that leave a partial tile and a
// partial chunk, channel counts off 32, padding on every side. Every call is
// split (minParallelCost 0), and the pool's counters show that calls went to it.
import { describe, expect, test } from 'vitest';
import * as sg from '../../src/index.js';
import { windowGeometry, type Window2dOptions } from '../../src/ops/conv-geometry.js';
import { conv2dShape } from '../../src/ops/conv.js';
import { conv2dF32, conv2dF32BackwardFilter, conv2dF32BackwardInput } from '../../src/kernels/conv.js';
import {
  binaryConv2d, binaryMaxPool2d, int8Conv2d, packChannels, packConvWeights, packConvWeightsU8, uint8Conv2d,
} from '../../src/kernels/conv_binary.js';
import { f32AvgPool2d, f32AvgPool2dBackward, f32MaxPool2d, f32MaxPool2dBackward } from '../../src/kernels/pool.js';
import { conv2dF32BackwardFilterRef, conv2dF32BackwardInputRef, conv2dF32Ref } from '../../src/reference/conv.js';
import { binaryConv2dRef, binaryMaxPool2dRef, int8Conv2dRef, uint8Conv2dRef, type ConvGeometryRef } from '../../src/reference/conv_binary.js';
import { f32AvgPool2dBackwardRef, f32AvgPool2dRef, f32MaxPool2dBackwardRef, f32MaxPool2dRef } from '../../src/reference/pool.js';
import { kernels, withArena } from '../support/kernel-harness.js';
import { atEveryThreadCount, expectSameBits, useThreadSweep, values } from '../support/threads.js';

useThreadSweep();

function expectBits(got: Uint8Array, want: ArrayBufferView, what: string): void {
  expect(Buffer.from(got).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)), `${what}: differs from the scalar twin`).toBe(true);
}

interface Case { N: number; H: number; W: number; C: number; Cout: number; kh: number; kw: number; opts: Window2dOptions & { groups?: number } }
const c = (N: number, H: number, W: number, C: number, Cout: number, kh: number, kw: number, opts: Case['opts'] = {}): Case => ({ N, H, W, C, Cout, kh, kw, opts });
const name = (k: Case) => `N ${k.N}, ${k.H}x${k.W}x${k.C} -> ${k.Cout}, ${k.kh}x${k.kw} ${JSON.stringify(k.opts)}`;

function geometry(k: Case): ConvGeometryRef {
  const g = windowGeometry('test', k.H, k.W, k.kh, k.kw, k.opts);
  return { N: k.N, H: k.H, W: k.W, C: k.C, kh: k.kh, kw: k.kw, strideH: g.strideH, strideW: g.strideW,
    dilationH: g.dilationH, dilationW: g.dilationW, padTop: g.padTop, padLeft: g.padLeft, outH: g.outH, outW: g.outW };
}

describe('f32 conv2d (im2col split over pixels, depthwise over pixels, GEMMs over tiles), forward and both gradients', () => {
  const cases = [
    c(1, 1, 1, 3, 5, 3, 3, { padding: 'same' }),
    c(1, 7, 5, 3, 7, 3, 3, { padding: 'same' }),
    c(3, 13, 11, 5, 6, 3, 2, { stride: 2, padding: [[1, 2], [0, 1]] }),
    c(2, 9, 10, 6, 12, 3, 3, { groups: 6, padding: 'same', dilation: 2 }),
    c(2, 11, 7, 6, 4, 2, 3, { groups: 2, stride: [1, 2] }),
    // the direct forward kernel (Cin >= 3, Cout a multiple of 8): pixel tiles of 4 cut by the split
    c(3, 13, 11, 3, 16, 3, 3, { padding: 'same' }),
    c(2, 9, 10, 4, 24, 3, 2, { stride: [2, 1], dilation: 2, padding: 'same' }),
    c(2, 9, 14, 1, 32, 3, 3, { padding: 'same' }),
  ];
  for (const k of cases) {
    // 300 floats per chunk: several chunks, and the weight gradient accumulated across them in order.
    for (const chunkFloats of [300, 1 << 18]) {
      test(`${name(k)}, chunks of ${chunkFloats} floats`, async () => {
        const groups = k.opts.groups ?? 1;
        const X = values(k.N * k.H * k.W * k.C, 1), Wt = values(k.kh * k.kw * (k.C / groups) * k.Cout, 2);
        let shape = null as unknown as ReturnType<typeof conv2dShape>;
        const runs = await atEveryThreadCount(() => sg.tidy(() => {
          const x = sg.tensor(X, [k.N, k.H, k.W, k.C]), w = sg.tensor(Wt, [k.kh, k.kw, k.C / groups, k.Cout]);
          shape = conv2dShape(x, w, k.opts);
          const y = conv2dF32(x, w, shape, chunkFloats);
          const dy = sg.tensor(values(y.size, 3), y.shape);
          return [y.dataSync(), conv2dF32BackwardInput(dy, w, shape, chunkFloats).dataSync(), conv2dF32BackwardFilter(x, dy, shape, chunkFloats).dataSync()];
        }));
        expectSameBits(runs);
        const y = conv2dF32Ref(shape, X, Wt, chunkFloats);
        const DY = values(y.length, 3);
        expectBits(runs[0][0], y, 'forward');
        expectBits(runs[0][1], conv2dF32BackwardInputRef(shape, DY, Wt, chunkFloats), 'input gradient');
        expectBits(runs[0][2], conv2dF32BackwardFilterRef(shape, X, DY, chunkFloats), 'weight gradient');
      });
    }
  }
});

describe('binary conv on packed bits (split over output pixels), every output and padding', () => {
  const cases = [
    c(1, 1, 1, 1, 1, 1, 1),
    c(1, 5, 7, 33, 3, 3, 3, { padding: 'same' }),
    c(3, 13, 11, 32, 37, 3, 3, { padding: 'same' }),
    c(2, 17, 9, 70, 65, 3, 2, { stride: 2, padding: [[1, 0], [2, 1]] }),
    c(5, 8, 8, 5, 64, 2, 2, { dilation: 2 }),
  ];
  for (const k of cases) {
    test(name(k), async () => {
      const X = values(k.N * k.H * k.W * k.C, 4), Wt = values(k.kh * k.kw * k.C * k.Cout, 5);
      const scale = values(k.Cout, 6, 0.1, 2), bias = values(k.Cout, 7);
      const K = k.kh * k.kw * k.C;
      const thr = values(k.Cout, 8, -K, K, true), dir = Int32Array.from(values(k.Cout, 9), (v) => (v < 0 ? -1 : 1));
      const outputs = [{ output: 'int32' }, { output: 'float32', scale: [...scale], bias: [...bias] }, { output: 'bits', threshold: [...thr], direction: [...dir] }] as const;
      const runs = await atEveryThreadCount(() => sg.tidy(() => {
        const xb = packChannels(sg.tensor(X, [k.N, k.H, k.W, k.C])), wb = packConvWeights(sg.tensor(Wt, [k.kh, k.kw, k.C, k.Cout]));
        const got: ArrayBufferView[] = [xb.dataSync(), wb.dataSync()];
        for (const padValue of [0, 1] as const) {
          for (const o of outputs) got.push(binaryConv2d(xb, wb, { ...k.opts, inChannels: k.C, kernelSize: [k.kh, k.kw], padValue, ...o }).dataSync());
        }
        return got;
      }), k.N * k.H * k.W > 1);
      expectSameBits(runs);
      const g = geometry(k);
      const xw = new Uint32Array(runs[0][0].slice().buffer), ww = new Uint32Array(runs[0][1].slice().buffer);
      const ldw = ww.length / Math.max(k.Cout, 1);
      const refs = [{ kind: 'int32' }, { kind: 'float32', scale, bias }, { kind: 'bits', threshold: Int32Array.from(thr), direction: dir }] as const;
      let i = 2;
      for (const padValue of [0, 1] as const) {
        for (const o of refs) expectBits(runs[0][i++], binaryConv2dRef(g, xw, ww, ldw, k.Cout, padValue, o), `padValue ${padValue} ${o.kind}`);
      }
    });
  }

  for (const k of [c(1, 3, 5, 40, 0, 2, 2, { padding: 'same' }), c(4, 13, 7, 97, 0, 3, 3, { stride: 2, padding: 'same' }), c(3, 8, 8, 32, 0, 2, 2)]) {
    test(`binary max-pool (split over output rows) ${name(k)}`, async () => {
      const X = values(k.N * k.H * k.W * k.C, 10);
      const runs = await atEveryThreadCount(() => sg.tidy(() => {
        const xb = packChannels(sg.tensor(X, [k.N, k.H, k.W, k.C]));
        return [xb.dataSync(), binaryMaxPool2d(xb, { channels: k.C, size: [k.kh, k.kw], ...k.opts }).dataSync()];
      }));
      expectSameBits(runs);
      const g = windowGeometry('test', k.H, k.W, k.kh, k.kw, k.opts, { stride: [k.kh, k.kw] });
      const ref = binaryMaxPool2dRef({ N: k.N, H: k.H, W: k.W, C: k.C, kh: k.kh, kw: k.kw, strideH: g.strideH, strideW: g.strideW, dilationH: 1, dilationW: 1,
        padTop: g.padTop, padLeft: g.padLeft, outH: g.outH, outW: g.outW }, new Uint32Array(runs[0][0].slice().buffer));
      expectBits(runs[0][1], ref, 'binaryMaxPool2d');
    });
  }
});

describe('uint8 x binary and int8 convs (split over output pixels)', () => {
  const cases = [c(1, 1, 1, 1, 3, 1, 1), c(1, 28, 28, 1, 32, 3, 3, { padding: 'same' }), c(3, 11, 13, 5, 7, 3, 2, { stride: 2, padding: 'same' }), c(2, 9, 9, 17, 33, 5, 5, { padding: [[2, 1], [0, 3]] })];
  for (const k of cases) {
    test(name(k), async () => {
      const X = values(k.N * k.H * k.W * k.C, 11, 0, 255, true), Wt = values(k.kh * k.kw * k.C * k.Cout, 12);
      const X8 = values(k.N * k.H * k.W * k.C, 13, -128, 127, true), W8 = values(k.kh * k.kw * k.C * k.Cout, 14, -128, 127, true);
      const scale = values(k.Cout, 15, 0.001, 0.01), bias = values(k.Cout, 16);
      const thr = values(k.Cout, 17, -500, 500, true), dir = Int32Array.from(values(k.Cout, 18), (v) => (v < 0 ? -1 : 1));
      const zp = -3;
      const opts = { ...k.opts, kernelSize: [k.kh, k.kw] as [number, number] };
      const runs = await atEveryThreadCount(() => sg.tidy(() => {
        const x = sg.tensor(X, [k.N, k.H, k.W, k.C], { dtype: 'uint8' }), wb = packConvWeightsU8(sg.tensor(Wt, [k.kh, k.kw, k.C, k.Cout]));
        const x8 = sg.tensor(X8, [k.N, k.H, k.W, k.C], { dtype: 'int8' }), w8 = sg.tensor(W8, [k.kh, k.kw, k.C, k.Cout], { dtype: 'int8' });
        return [
          wb.dataSync(),
          uint8Conv2d(x, wb, opts).dataSync(),
          uint8Conv2d(x, wb, { ...opts, output: 'float32', scale: [...scale], bias: [...bias] }).dataSync(),
          uint8Conv2d(x, wb, { ...opts, output: 'bits', threshold: [...thr], direction: [...dir] }).dataSync(),
          int8Conv2d(x8, w8, { ...k.opts, zeroPoint: zp }).dataSync(),
          int8Conv2d(x8, w8, { ...k.opts, zeroPoint: zp, output: 'float32', scaleA: 0.05, scaleB: [...scale], bias: 0.5 }).dataSync(),
          int8Conv2d(x8, w8, { ...k.opts, zeroPoint: zp, output: 'int8', scaleA: 0.05, scaleB: [...scale], scaleOut: 0.5 }).dataSync(),
        ];
      }), k.N * k.H * k.W > 1);
      expectSameBits(runs);
      const g = geometry(k);
      const wb = new Uint32Array(runs[0][0].slice().buffer);
      const ldw = wb.length / k.Cout;
      expectBits(runs[0][1], uint8Conv2dRef(g, X, wb, ldw, k.Cout, { kind: 'int32' }), 'uint8Conv2d int32');
      expectBits(runs[0][2], uint8Conv2dRef(g, X, wb, ldw, k.Cout, { kind: 'float32', scale, bias }), 'uint8Conv2d float32');
      expectBits(runs[0][3], uint8Conv2dRef(g, X, wb, ldw, k.Cout, { kind: 'bits', threshold: Int32Array.from(thr), direction: dir }), 'uint8Conv2d bits');
      expectBits(runs[0][4], int8Conv2dRef(g, X8, zp, W8, k.Cout, 'int32'), 'int8Conv2d int32');
    });
  }
});

describe('f32 pooling forward and backward (split over images)', () => {
  const cases = [c(1, 5, 7, 3, 0, 2, 2), c(3, 13, 11, 5, 0, 3, 3, { stride: 2, padding: 'same' }), c(7, 9, 9, 33, 0, 2, 3, { stride: [2, 1] }), c(2, 6, 5, 4, 0, 6, 5)];
  for (const k of cases) {
    test(`max, average and global average ${name(k)}`, async () => {
      const X = values(k.N * k.H * k.W * k.C, 19);
      const g = windowGeometry('test', k.H, k.W, k.kh, k.kw, k.opts, { stride: [k.kh, k.kw] });
      const outSize = k.N * g.outH * g.outW * k.C;
      const DY = values(outSize, 20);
      const runs = await atEveryThreadCount(() => sg.tidy(() => {
        const x = sg.tensor(X, [k.N, k.H, k.W, k.C]), dy = sg.tensor(DY, [k.N, g.outH, g.outW, k.C]);
        const m = f32MaxPool2d(x, g, true);
        const a = f32AvgPool2d(x, g);
        return [m.y.dataSync(), m.indices!.dataSync(), f32MaxPool2dBackward(dy, m.indices!, x.shape).dataSync(), a.dataSync(),
          f32AvgPool2dBackward(dy, g, x.shape).dataSync(), sg.globalAvgPool2d(x).dataSync()];
      }), k.N > 1);
      expectSameBits(runs);
      const d = { N: k.N, H: k.H, W: k.W, C: k.C };
      const m = f32MaxPool2dRef(X, d, g);
      expectBits(runs[0][0], m.y, 'maxPool2d');
      expectBits(runs[0][1], m.indices, 'maxPool2d indices');
      expectBits(runs[0][2], f32MaxPool2dBackwardRef(DY, m.indices, d, g.outH * g.outW), 'maxPool2d backward');
      expectBits(runs[0][3], f32AvgPool2dRef(X, d, g), 'avgPool2d');
      expectBits(runs[0][4], f32AvgPool2dBackwardRef(DY, d, g), 'avgPool2d backward');
      expectBits(runs[0][5], f32AvgPool2dRef(X, d, { kh: k.H, kw: k.W, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, outH: 1, outW: 1 }), 'globalAvgPool2d');
    });
  }
});

describe('a tile of the frozen conv drivers writes exactly its output rows', () => {
  // Cuts inside an image and inside a chunk (3 rows): the bytes outside the tile keep the arena's canary.
  const k = c(2, 7, 5, 40, 35, 3, 3, { padding: 'same' });
  const g = geometry(k);
  const M = k.N * g.outH * g.outW;
  const geoWords = (pixel: number) => Int32Array.from([k.N, k.H, k.W, k.C, k.kh, k.kw, g.strideH, g.strideW, 1, 1, g.padTop, g.padLeft, g.outH, g.outW, pixel, 0]);

  /** Checks that rows [m0, m1) of `rowBytes` hold want's rows and every other byte of out is still the arena's canary (0xa5). */
  function expectTile(out: Uint8Array, want: ArrayBufferView, m0: number, m1: number, rowBytes: number, what: string): void {
    const w = new Uint8Array(want.buffer, want.byteOffset, want.byteLength);
    expect(Buffer.from(out.subarray(m0 * rowBytes, m1 * rowBytes)).equals(Buffer.from(w.subarray(m0 * rowBytes, m1 * rowBytes))), `${what}: rows [${m0}, ${m1})`).toBe(true);
    expect(out.subarray(0, m0 * rowBytes).every((b) => b === 0xa5) && out.subarray(m1 * rowBytes).every((b) => b === 0xa5), `${what}: wrote outside rows [${m0}, ${m1})`).toBe(true);
  }

  for (const [m0, m1] of [[0, 1], [4, 17], [33, M], [M - 1, M]]) {
    test(`conv_b1 (int32, bits), conv_u8b1, conv_s8 on pixels [${m0}, ${m1}) of ${M}, maxpool_b1 on rows`, () => sg.tidy(() => {
      const X = values(k.N * k.H * k.W * k.C, 30), Wt = values(k.kh * k.kw * k.C * k.Cout, 31);
      const xb = packChannels(sg.tensor(X, [k.N, k.H, k.W, k.C])), wb = packConvWeights(sg.tensor(Wt, [k.kh, k.kw, k.C, k.Cout]));
      const xw = new Uint32Array(xb.dataSync().buffer.slice(0)), ww = new Uint32Array(wb.dataSync().buffer.slice(0));
      const ldw = wb.shape[1], cw = Math.ceil(k.C / 32), chunk = 3;
      const thr = Int32Array.from(values(k.Cout, 32, -50, 50, true)), dir = Int32Array.from(values(k.Cout, 33), (v) => (v < 0 ? -1 : 1));
      withArena((a) => {
        const geo = a.put(geoWords(cw));
        const work = a.alloc(kernels().conv_b1_workspace_bytes(chunk, ldw, k.Cout));
        const out = a.alloc(M * k.Cout * 4), bits = a.alloc(M * Math.ceil(k.Cout / 32) * 4);
        kernels().conv_b1(0, geo, xb.offset, wb.offset, ldw, k.Cout, out, 0, 0, 0, 0, 0, work, chunk, m0, m1);
        kernels().conv_b1(2, geo, xb.offset, wb.offset, ldw, k.Cout, bits, 0, 0, 0, a.put(thr), a.put(dir), work, chunk, m0, m1);
        a.checkGuards();
        expectTile(a.read(Uint8Array, out, M * k.Cout * 4), binaryConv2dRef(g, xw, ww, ldw, k.Cout, 1, { kind: 'int32' }), m0, m1, k.Cout * 4, 'conv_b1 int32');
        expectTile(a.read(Uint8Array, bits, M * Math.ceil(k.Cout / 32) * 4), binaryConv2dRef(g, xw, ww, ldw, k.Cout, 1, { kind: 'bits', threshold: thr, direction: dir }),
          m0, m1, Math.ceil(k.Cout / 32) * 4, 'conv_b1 bits');
        const rows0 = Math.floor(m0 / g.outW), rows1 = Math.ceil(m1 / g.outW);
        const pooled = a.alloc(k.N * g.outH * g.outW * cw * 4);
        const pg = { ...g, kh: 2, kw: 2, padTop: 0, padLeft: 0 };
        kernels().maxpool_b1(a.put(Int32Array.from([k.N, k.H, k.W, k.C, 2, 2, 1, 1, 1, 1, 0, 0, g.outH, g.outW, cw, 0])), xb.offset, pooled, rows0, rows1);
        a.checkGuards();
        expectTile(a.read(Uint8Array, pooled, k.N * g.outH * g.outW * cw * 4), binaryMaxPool2dRef(pg, xw), rows0 * g.outW, rows1 * g.outW, cw * 4, 'maxpool_b1');
      });
      const K = k.kh * k.kw * k.C;
      const X8 = values(k.N * k.H * k.W * k.C, 34, 0, 127, true), W8 = values(K * k.Cout, 35, -128, 127, true);
      const xu = sg.tensor(X8, [k.N, k.H, k.W, k.C], { dtype: 'uint8' }), wu = packConvWeightsU8(sg.tensor(Wt, [k.kh, k.kw, k.C, k.Cout]));
      const xs = sg.tensor(X8, [k.N, k.H, k.W, k.C], { dtype: 'int8' }), ws = sg.tensor(W8, [k.kh, k.kw, k.C, k.Cout], { dtype: 'int8' });
      const wuWords = new Uint32Array(wu.dataSync().buffer.slice(0));
      withArena((a) => {
        const geo = a.put(geoWords(k.C));
        const patterns = a.alloc(kernels().gemm_u8b1_packed_w_bytes(k.Cout, K));
        kernels().gemm_u8b1_pack_w(wu.offset, k.Cout, wu.shape[1], K, patterns);
        const out = a.alloc(M * k.Cout * 4);
        kernels().conv_u8b1(0, geo, xu.offset, patterns, k.Cout, out, 0, 0, 0, 0, a.alloc(kernels().conv_u8b1_workspace_bytes(K, chunk, k.Cout)), chunk, m0, m1);
        a.checkGuards();
        expectTile(a.read(Uint8Array, out, M * k.Cout * 4), uint8Conv2dRef(g, X8, wuWords, wu.shape[1], k.Cout, { kind: 'int32' }), m0, m1, k.Cout * 4, 'conv_u8b1');
        const packed = a.alloc(kernels().gemm_s8_packed_b_bytes(k.Cout, K));
        kernels().gemm_s8_pack_b(ws.offset, k.Cout, k.Cout, K, 0, packed);
        const out8 = a.alloc(M * k.Cout * 4);
        kernels().conv_s8(0, geo, xs.offset, 5, packed, k.Cout, out8, 0, 0, a.alloc(kernels().conv_s8_workspace_bytes(K, chunk)), chunk, m0, m1);
        a.checkGuards();
        expectTile(a.read(Uint8Array, out8, M * k.Cout * 4), int8Conv2dRef(g, X8, 5, W8, k.Cout, 'int32'), m0, m1, k.Cout * 4, 'conv_s8');
      });
    }));
  }
});
