import { elementAt as at, elementPass, parallelTiles, TILE_LENGTH as LENGTH } from '../runtime/parallel.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { expectF32, expectSameSize } from './internal/checks.js';

// Quantization of float32 values in float32 (kernels: assembly/quant.ts,
// twin: reference/quant.ts). The int8 storage formats are quant_s8.ts.

/** The integer level range of a fake quantization and its float mapping. */
export interface FakeQuantParams {
  scale: number;
  zeroPoint: number;
  qmin: number;
  qmax: number;
}

/** Rounding and clamping: a few operations per element. */
const pass = (n: number) => elementPass(n, 8);

/** -1 below -t, +1 above t, 0 in between (inclusive). */
export function f32Ternarize(x: Tensor, t: number): Tensor {
  expectF32(x, 'f32Ternarize', 'x');
  const y = empty(x.shape, 'float32');
  parallelTiles({ kernel: 'f32_ternarize', ...pass(x.size), args: [at(x.offset), at(y.offset), LENGTH, t] });
  return y;
}

/** y = (clamp(roundHalfEven(x / scale) + zeroPoint, qmin, qmax) - zeroPoint) · scale. */
export function f32FakeQuant(x: Tensor, p: FakeQuantParams): Tensor {
  expectF32(x, 'f32FakeQuant', 'x');
  const y = empty(x.shape, 'float32');
  parallelTiles({ kernel: 'f32_fake_quant', ...pass(x.size), args: [at(x.offset), at(y.offset), LENGTH, p.scale, p.zeroPoint, p.qmin, p.qmax] });
  return y;
}

/** dx = dy where the level roundHalfEven(x / scale) + zeroPoint was not clamped, else 0. */
export function f32FakeQuantBackward(x: Tensor, dy: Tensor, p: FakeQuantParams): Tensor {
  expectF32(x, 'f32FakeQuantBackward', 'x');
  expectSameSize(x, dy, 'f32FakeQuantBackward', 'x and dy');
  const dx = empty(x.shape, 'float32');
  parallelTiles({
    kernel: 'f32_fake_quant_backward', ...pass(x.size),
    args: [at(x.offset), at(dy.offset), at(dx.offset), LENGTH, p.scale, p.zeroPoint, p.qmin, p.qmax],
  });
  return dx;
}
