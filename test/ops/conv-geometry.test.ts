import { describe, expect, it } from 'vitest';
import { windowGeometry } from '../../src/ops/conv-geometry.js';

describe('windowGeometry', () => {
  it("'same' follows TF: out = ceil(in / stride), the odd pad pixel at the bottom/right", () => {
    // in 6, k 3, stride 2: out 3, total pad (3-1)*2 + 3 - 6 = 1 -> [0, 1]
    const g = windowGeometry('t', 6, 5, 3, 3, { stride: 2, padding: 'same' });
    expect([g.outH, g.outW]).toEqual([3, 3]);
    expect([g.padTop, g.padBottom]).toEqual([0, 1]);
    // in 5, k 3, stride 2: total (3-1)*2 + 3 - 5 = 2 -> [1, 1]
    expect([g.padLeft, g.padRight]).toEqual([1, 1]);
    // a 4x4 kernel at stride 1 on 7: total 3 -> [1, 2]
    const h = windowGeometry('t', 7, 7, 4, 4, { padding: 'same' });
    expect([h.padTop, h.padBottom, h.outH]).toEqual([1, 2, 7]);
    // dilation 2 spans 5: total 4 -> [2, 2]
    const d = windowGeometry('t', 9, 9, 3, 3, { padding: 'same', dilation: 2 });
    expect([d.padTop, d.padBottom, d.outH]).toEqual([2, 2, 9]);
    // a kernel larger than a 1x1 image
    const one = windowGeometry('t', 1, 1, 5, 5, { padding: 'same' });
    expect([one.padTop, one.padBottom, one.outH, one.outW]).toEqual([2, 2, 1, 1]);
  });

  it("'valid', explicit padding and stride pairs", () => {
    const v = windowGeometry('t', 28, 28, 5, 5, {});
    expect([v.outH, v.outW, v.padTop]).toEqual([24, 24, 0]);
    const e = windowGeometry('t', 7, 11, 3, 2, { padding: [[1, 0], [2, 3]], stride: [2, 3] });
    // H: (7 + 1 - 3) / 2 + 1 = 3; W: (11 + 5 - 2) / 3 + 1 = 5
    expect([e.outH, e.outW, e.strideH, e.strideW]).toEqual([3, 5, 2, 3]);
    expect(windowGeometry('t', 4, 4, 2, 2, null, { stride: [2, 2] }).outH).toBe(2);
  });

  it('names the op and argument on bad options', () => {
    expect(() => windowGeometry('conv2d', 2, 2, 3, 3, {})).toThrow(/conv2d: the 3x3 window .* does not fit the padded input 2x2/);
    expect(() => windowGeometry('conv2d', 8, 8, 3, 3, { stride: 0 })).toThrow(/conv2d: stride/);
    expect(() => windowGeometry('conv2d', 8, 8, 3, 3, { padding: 'full' as never })).toThrow(/conv2d: padding must be 'same', 'valid'/);
    expect(() => windowGeometry('conv2d', 8, 8, 3, 3, { padding: [[1, -1], [0, 0]] })).toThrow(/conv2d: padding must be/);
    expect(() => windowGeometry('conv2d', 8, 8, 3, 3, { dilation: [1, 1.5] as never })).toThrow(/conv2d: dilation\[1\]/);
  });
});
