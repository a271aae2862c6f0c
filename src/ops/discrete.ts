import { record } from '../autograd/tape.js';
import type { HardName } from '../kernels/codes.generated.js';
import { fill } from '../kernels/elementwise.js';
import { f32Hard } from '../kernels/hard.js';
import { checkFloat } from '../tensor/checks.js';
import { empty, type Tensor } from '../tensor/tensor.js';

// The plain (non-STE) discrete ops, with their true derivative: 0 almost
// everywhere. They exist to show why the STE versions in `ste` are needed.
function plain(name: HardName, x: Tensor): Tensor {
  checkFloat(x, name, 'x');
  const { y } = f32Hard(name, x);
  return record(y, name, [x], (dy) => {
    const dx = empty(dy.shape, 'float32');
    fill(dx, 0);
    return [dx];
  });
}

/**
 * sign(x) with sign(0) = 0 and sign(NaN) = NaN (as torch.sign), with its true gradient: 0 everywhere, so nothing
 * before it learns. `sg.ste.sign` computes the same forward value but passes a
 * surrogate gradient (identity by default; clipped, ApproxSign or SwishSign
 * by option) — use it to train through the sign.
 */
export const sign = (x: Tensor): Tensor => plain('sign', x);
/**
 * Round half to even (NaN stays NaN), with its true gradient 0. `sg.ste.round` has the same
 * forward value and passes the gradient straight through (identity).
 */
export const round = (x: Tensor): Tensor => plain('round', x);
/**
 * Floor, with its true gradient 0. `sg.ste.floor` has the same forward value
 * and passes the gradient straight through (identity).
 */
export const floor = (x: Tensor): Tensor => plain('floor', x);
