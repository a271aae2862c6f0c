import { record } from '../autograd/tape.js';
import { binaryConv2d, packChannels, packConvWeights } from '../kernels/conv_binary.js';
import { conv2dF32BackwardFilter, conv2dF32BackwardInput } from '../kernels/conv.js';
import type { Tensor } from '../tensor/tensor.js';
import { conv2dShape, type Conv2dOptions } from './conv.js';

// The convolution of BinaryConv2d with binarized inputs (groups 1), whose
// forward pass runs on packed bits (XNOR-popcount, exact integers: the same
// values the float conv of the ±1 values gives) and whose backward pass is
// conv2d's: dx = conv2d's input gradient with wb, dw = its filter gradient
// with xb. Internal to BinaryConv2d, whose binarize calls guarantee the ±1
// entries; padding is zero padding (one-padding pads xb with +1 first).

/** xb [N, H, W, C] and wb HWIO [kh, kw, C, Cout] of ±1 values -> float32 [N, outH, outW, Cout]. */
export function signConv2d(xb: Tensor, wb: Tensor, options: Conv2dOptions): Tensor {
  const s = conv2dShape(xb, wb, options, 'BinaryConv2d');
  const xBits = packChannels(xb);
  let y: Tensor;
  try {
    const wBits = packConvWeights(wb);
    try {
      y = binaryConv2d(xBits, wBits, { ...options, inChannels: s.cin, kernelSize: [s.kh, s.kw], output: 'float32' });
    } finally {
      wBits.dispose();
    }
  } finally {
    xBits.dispose();
  }
  return record(y, 'signConv2d', [xb, wb], (dy) => [
    xb.requiresGrad ? conv2dF32BackwardInput(dy, wb, s) : null,
    wb.requiresGrad ? conv2dF32BackwardFilter(xb, dy, s) : null,
  ]);
}
