import { elementAt, parallelTiles, TILE_LENGTH, type TileArg } from '../runtime/parallel.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { expectF32, expectShape } from './internal/checks.js';

// Batch norm over x [B, F] (kernels: assembly/batchnorm.ts, twin:
// reference/batchnorm.ts). gamma/beta null = no affine parameters.

/** Column f0 of a [B, F] or [F] float32 tensor, for a tile of features [f0, f1). */
const col = (t: Tensor | null): TileArg => (t === null ? 0 : elementAt(t.offset));
/** Features are split in groups of 4 (the kernels' vector width), so every split keeps the full call's bits. */
const features = (B: number, F: number, passes: number) => ({ rows: { begin: 0, end: F, align: 4 }, cost: passes * B * F });

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
  parallelTiles({
    kernel: 'bn_forward_train', ...features(B, F, 12),
    args: [col(x), col(y), col(xhat), col(mean), col(variance), col(invstd), col(gamma), col(beta), B, TILE_LENGTH, F, eps],
  });
  return { y, xhat, mean, variance, invstd };
}

/** Training backward from the saved xhat and invstd: dx, and dgamma / dbeta (summed over the batch). */
export function bnBackwardTrain(dy: Tensor, xhat: Tensor, invstd: Tensor, gamma: Tensor | null): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const [B, F] = checkInputs(xhat, [invstd, gamma], 'bnBackwardTrain');
  expectShape(dy, [B, F], 'bnBackwardTrain', 'dy');
  const dx = empty([B, F], 'float32');
  const dgamma = empty([F], 'float32');
  const dbeta = empty([F], 'float32');
  parallelTiles({
    kernel: 'bn_backward_train', ...features(B, F, 12),
    args: [col(dy), col(xhat), col(invstd), col(gamma), col(dx), col(dgamma), col(dbeta), B, TILE_LENGTH, F],
  });
  return { dx, dgamma, dbeta };
}

/** Eval forward: ((x - mean) / sqrt(variance + eps))·gamma + beta, each f32 op rounded in that order. */
export function bnForwardEval(x: Tensor, mean: Tensor, variance: Tensor, gamma: Tensor | null, beta: Tensor | null, eps: number): Tensor {
  const [B, F] = checkInputs(x, [mean, variance, gamma, beta], 'bnForwardEval');
  const y = empty([B, F], 'float32');
  parallelTiles({
    kernel: 'bn_forward_eval', ...features(B, F, 8),
    args: [col(x), col(y), col(mean), col(variance), col(gamma), col(beta), B, TILE_LENGTH, F, eps],
  });
  return y;
}
