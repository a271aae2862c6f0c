import { record } from '../autograd/tape.js';
import { packBits } from '../kernels/bitpack.js';
import { binaryMatmulScaled } from '../kernels/gemm_b1.js';
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
