import { record } from '../autograd/tape.js';
import { Hard, type HardName } from '../kernels/codes.js';
import { rt } from '../runtime/context.js';
import { checkFloat } from '../tensor/checks.js';
import { empty, type Tensor } from '../tensor/tensor.js';

// The plain (non-STE) discrete ops, with their true derivative: 0 almost
// everywhere. They exist to show why the STE versions in `ste` are needed.
function plain(name: HardName, x: Tensor): Tensor {
  checkFloat(x, name, 'x');
  const y = empty(x.shape, 'float32');
  const { kernels } = rt();
  kernels.f32_hard(Hard[name], x.offset, y.offset, x.size);
  return record(y, name, [x], (dy) => {
    const dx = empty(dy.shape, 'float32');
    kernels.f32_fill(dx.offset, dx.size, 0);
    return [dx];
  });
}

/** sign(x) with sign(0) = 0 and sign(NaN) = NaN (as torch.sign); gradient 0 (use ste.sign to train through it). */
export const sign = (x: Tensor): Tensor => plain('sign', x);
/** Round half to even (NaN stays NaN); gradient 0 (use ste.round to train through it). */
export const round = (x: Tensor): Tensor => plain('round', x);
/** Floor; gradient 0 (use ste.floor to train through it). */
export const floor = (x: Tensor): Tensor => plain('floor', x);
