import { rt } from '../runtime/context.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { expectF32, expectShape } from './internal/checks.js';

// Batch norm over x [B, F] (kernels: assembly/batchnorm.ts, twin:
// reference/batchnorm.ts). gamma/beta null = no affine parameters.

function checkInputs(x: Tensor, perFeature: (Tensor | null)[], binding: string): [number, number] {
  expectF32(x, binding, 'x');
  if (x.rank !== 2) throw new Error(`internal: ${binding}: x must be [B, F], got [${x.shape}]`);
  const F = x.shape[1];
  for (const t of perFeature) if (t !== null) expectShape(t, [F], binding, 'a per-feature tensor');
  return [x.shape[0], F];
}

/** Training forward: batch mean, biased variance, invstd = 1/sqrt(var + eps), xhat and y = xhat·gamma + beta. */
export function bnForwardTrain(x: Tensor, gamma: Tensor | null, beta: Tensor | null, eps: number):
  { y: Tensor; xhat: Tensor; mean: Tensor; variance: Tensor; invstd: Tensor } {
  const [B, F] = checkInputs(x, [gamma, beta], 'bnForwardTrain');
  const y = empty([B, F], 'float32');
  const xhat = empty([B, F], 'float32');
  const mean = empty([F], 'float32');
  const variance = empty([F], 'float32');
  const invstd = empty([F], 'float32');
  rt().kernels.bn_forward_train(x.offset, y.offset, xhat.offset, mean.offset, variance.offset, invstd.offset,
    gamma?.offset ?? 0, beta?.offset ?? 0, B, F, eps);
  return { y, xhat, mean, variance, invstd };
}

/** Training backward from the saved xhat and invstd: dx, and dgamma / dbeta (summed over the batch). */
export function bnBackwardTrain(dy: Tensor, xhat: Tensor, invstd: Tensor, gamma: Tensor | null): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const [B, F] = checkInputs(xhat, [invstd, gamma], 'bnBackwardTrain');
  expectShape(dy, [B, F], 'bnBackwardTrain', 'dy');
  const dx = empty([B, F], 'float32');
  const dgamma = empty([F], 'float32');
  const dbeta = empty([F], 'float32');
  rt().kernels.bn_backward_train(dy.offset, xhat.offset, invstd.offset, gamma?.offset ?? 0, dx.offset, dgamma.offset, dbeta.offset, B, F);
  return { dx, dgamma, dbeta };
}

/** Eval forward: ((x - mean) / sqrt(variance + eps))·gamma + beta, each f32 op rounded in that order. */
export function bnForwardEval(x: Tensor, mean: Tensor, variance: Tensor, gamma: Tensor | null, beta: Tensor | null, eps: number): Tensor {
  const [B, F] = checkInputs(x, [mean, variance, gamma, beta], 'bnForwardEval');
  const y = empty([B, F], 'float32');
  rt().kernels.bn_forward_eval(x.offset, y.offset, mean.offset, variance.offset, gamma?.offset ?? 0, beta?.offset ?? 0, B, F, eps);
  return y;
}
