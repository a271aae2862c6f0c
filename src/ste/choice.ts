import { composite, record } from '../autograd/tape.js';
import { affine, add } from '../ops/elementwise.js';
import { argmax } from '../ops/reduce.js';
import { softmax } from '../ops/losses.js';
import { rngGumbelF32 } from '../kernels/rng.js';
import { fill } from '../kernels/elementwise.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { randomDraw, Stream, type RandomDraw } from '../tensor/random.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { empty, rawF32, rawI32, type Tensor } from '../tensor/tensor.js';
import { identityGrad } from './straight.js';

/** One-hot of the row-wise argmax (first index on ties), no tape. */
function oneHotOfArgmax(x: Tensor): Tensor {
  const c = x.shape[x.rank - 1];
  const idx = argmax(x, { axis: -1 });
  const y = empty(x.shape, 'float32');
  fill(y, 0);
  const rows = idx.size;
  const iv = rawI32(idx);
  const yv = rawF32(y);
  for (let r = 0; r < rows; r++) yv[r * c + iv[r]] = 1;
  idx.dispose();
  return y;
}

/** Forward `hard`, backward through `soft` (which is on the tape): hard + soft - stopGradient(soft), exactly. */
function hardWithSoftGrad(hard: Tensor, soft: Tensor, op: string): Tensor {
  return record(hard, op, [soft], (dy) => [identityGrad(dy)]);
}

function checkLogits(logits: Tensor, op: string): void {
  checkFloat(logits, op, 'logits');
  if (logits.rank === 0 || logits.shape[logits.rank - 1] === 0) {
    throw new Error(`${op}: logits must have a non-empty last axis (the choices), got shape [${logits.shape}]`);
  }
}

/**
 * Hard attention / hard choice: the forward pass is the one-hot of argmax
 * along the last axis; the backward pass is the gradient of softmax(logits).
 */
export function argmaxOneHot(logits: Tensor): Tensor {
  checkLogits(logits, 'ste.argmaxOneHot');
  return composite(() => {
    const soft = softmax(logits);
    return hardWithSoftGrad(oneHotOfArgmax(logits), soft, 'argmaxOneHot');
  });
}

export interface GumbelSoftmaxOptions {
  /** Temperature (> 0, default 1). */
  tau?: number;
  /** Return the one-hot of the sample (straight-through) instead of the relaxed sample. */
  hard?: boolean;
  /**
   * This call's own seed for the Gumbel noise (the same bits in every runtime). The noise then
   * depends on this seed only: the same seed every training step gives the same noise every step.
   * Leave it out in a training loop (call `seed(n)` once) so each step draws fresh noise.
   */
  seed?: number;
}

/**
 * Gumbel-softmax sample softmax((logits + g) / tau) with g ~ Gumbel(0, 1)
 * along the last axis; with hard: true, the forward value is its one-hot and
 * the gradient is that of the relaxed sample.
 */
export function gumbelSoftmax(logits: Tensor, options: GumbelSoftmaxOptions | null = {}): Tensor {
  const op = 'ste.gumbelSoftmax';
  checkLogits(logits, op);
  const o = readOptions<GumbelSoftmaxOptions>(options, op);
  // 1 / tau is applied in float32: tau must keep it finite and non-zero.
  const tau = checkNumber(o.tau ?? 1, op, 'tau', { positive: true, f32: true, min: 1 / 3.4e38 });
  const hard = boolOption(o.hard, op, 'hard');
  const draw = randomDraw(o.seed, op, Stream.gumbel);
  return composite(() => gumbelSample(logits, tau, hard, draw));
}

/** softmax((logits + g) / tau), or its one-hot with the relaxed sample's gradient. */
function gumbelSample(logits: Tensor, tau: number, hard: boolean, draw: RandomDraw): Tensor {
  const noise = empty(logits.shape, 'float32');
  rngGumbelF32(noise, draw);
  draw.commit();
  const perturbed = add(logits, noise);
  noise.dispose();
  const soft = softmax(affine(perturbed, 1 / tau, 0));
  if (!hard) return soft;
  return hardWithSoftGrad(oneHotOfArgmax(soft), soft, 'gumbelSoftmax');
}
