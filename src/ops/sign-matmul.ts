import { record } from '../autograd/tape.js';
import { packBits } from '../kernels/bitpack.js';
import { binaryMatmulScaled } from '../kernels/gemm_b1.js';
import { uint8BinaryMatmulF32 } from '../kernels/gemm_u8b1.js';
import { matmul } from './matmul.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * xb · wbᵀ for matrices whose entries are all ±1 (outputs of binarize):
 * the forward pass packs both to bits and runs the XNOR-popcount GEMM (the
 * result is the same exact integers a float GEMM gives), the backward pass is
 * matmul's: dx = dy · wb, dw = dyᵀ · xb. Internal to BinaryLinear, whose
 * binarize calls guarantee the ±1 entries.
 */
export function signMatmul(xb: Tensor, wb: Tensor): Tensor {
  const k = xb.shape[1];
  const xBits = packBits(xb);
  const wBits = packBits(wb);
  const y = binaryMatmulScaled(xBits, wBits, k);
  xBits.dispose();
  wBits.dispose();
  return record(y, 'signMatmul', [xb, wb], (dy) => [
    xb.requiresGrad ? matmul(dy, wb) : null,
    wb.requiresGrad ? matmul(dy, xb, { transposeA: true }) : null,
  ]);
}

/**
 * x · wbᵀ for inputs that are integers in [0, 255] (raw pixels) and ±1
 * weights (outputs of binarize): the forward pass runs the uint8 x 1-bit
 * kernel (exact integers, the same bits a float GEMM gives, which rounds no
 * partial sum below 2^24), and rejects other inputs; the backward pass is
 * matmul's. Internal to BinaryLinear with uint8Inputs.
 */
export function uint8SignMatmul(x: Tensor, wb: Tensor, op: string): Tensor {
  const wBits = packBits(wb);
  let y: Tensor;
  try {
    y = uint8BinaryMatmulF32(x, wBits, op);
  } finally {
    wBits.dispose();
  }
  return record(y, 'uint8SignMatmul', [x, wb], (dy) => [
    x.requiresGrad ? matmul(dy, wb) : null,
    wb.requiresGrad ? matmul(dy, x, { transposeA: true }) : null,
  ]);
}
