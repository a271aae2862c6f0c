import { record } from '../autograd/tape.js';
import { packBits } from '../kernels/bitpack.js';
import { binaryMatmulF32 } from '../kernels/gemm_b1.js';
import { uint8BinaryMatmulF32 } from '../kernels/gemm_u8b1.js';
import { matmul } from './matmul.js';
import { cast } from './shape.js';
import type { Tensor } from '../tensor/tensor.js';

// Products x · wbᵀ of BinaryLinear whose forward pass runs on a bit kernel
// (exact integers, so the same bits a float GEMM gives) and whose backward
// pass is matmul's: dx = dy · wb, dw = dyᵀ · x. Internal to BinaryLinear,
// whose binarize calls guarantee the ±1 entries of wb.

function recordProduct(y: Tensor, name: string, x: Tensor, wb: Tensor): Tensor {
  return record(y, name, [x, wb], (dy) => [
    x.requiresGrad ? matmul(dy, wb) : null,
    wb.requiresGrad ? weightGrad(dy, x) : null,
  ]);
}

/** dw = dyᵀ · x; uint8 inputs (raw pixels) are widened to float32 for it (exact). */
function weightGrad(dy: Tensor, x: Tensor): Tensor {
  if (x.dtype === 'float32') return matmul(dy, x, { transposeA: true });
  const xf = cast(x, 'float32');
  try {
    return matmul(dy, xf, { transposeA: true });
  } finally {
    xf.dispose();
  }
}

/** Runs kernel on wb packed to bits; the bits are freed whatever happens. */
function withWeightBits(wb: Tensor, kernel: (wBits: Tensor) => Tensor): Tensor {
  const wBits = packBits(wb);
  try {
    return kernel(wBits);
  } finally {
    wBits.dispose();
  }
}

/** ±1 inputs (outputs of binarize) times ±1 weights: XNOR-popcount. */
export function signMatmul(xb: Tensor, wb: Tensor): Tensor {
  const k = xb.shape[1];
  const y = withWeightBits(wb, (wBits) => {
    const xBits = packBits(xb);
    try {
      return binaryMatmulF32(xBits, wBits, k);
    } finally {
      xBits.dispose();
    }
  });
  return recordProduct(y, 'signMatmul', xb, wb);
}

/** Inputs that are integers in [0, 255] (raw pixels; others are rejected) times ±1 weights: the uint8 x 1-bit kernel. */
export function uint8SignMatmul(x: Tensor, wb: Tensor, op: string): Tensor {
  const y = withWeightBits(wb, (wBits) => uint8BinaryMatmulF32(x, wBits, op));
  return recordProduct(y, 'uint8SignMatmul', x, wb);
}
