import { stopGradient } from '../autograd/custom.js';
import { record } from '../autograd/tape.js';
import { vqNearest } from '../kernels/vq.js';
import { affine } from '../ops/elementwise.js';
import { mse } from '../ops/losses.js';
import { gather } from '../ops/shape.js';
import { f32Affine } from '../kernels/elementwise.js';
import { checkFloat, checkNumber, checkRank } from '../tensor/checks.js';
import { identityGrad } from './straight.js';
import type { Tensor } from '../tensor/tensor.js';

export interface VqOptions {
  /** Weight of the commitment loss (default 0.25, as in VQ-VAE). */
  beta?: number;
}

export interface VqResult {
  /** The chosen codebook rows, passing their gradient straight to z (not to the codebook). */
  zq: Tensor;
  /** int32 [N]: the nearest codebook row of each z row (squared L2, lowest index on ties). */
  indices: Tensor;
  /** beta * mean((z - stopGradient(codes))^2): pulls the encoder toward its codes. */
  commitmentLoss: Tensor;
  /** mean((stopGradient(z) - codes)^2): the only path by which the codebook is trained. */
  codebookLoss: Tensor;
}

/**
 * VQ-VAE quantization of z [N, D] against codebook [K, D]. Losses are means
 * over all N·D elements (as F.mse_loss), not sums.
 */
export function vq(z: Tensor, codebook: Tensor, options: VqOptions = {}): VqResult {
  checkFloat(z, 'vq', 'z');
  checkFloat(codebook, 'vq', 'codebook');
  checkRank(z, 'vq', 'z', 2);
  checkRank(codebook, 'vq', 'codebook', 2);
  const beta = checkNumber(options.beta ?? 0.25, 'vq', 'beta', { min: 0 });
  const indices = vqNearest(z, codebook);
  const codes = gather(codebook, indices);
  // zq: the value of codes, the gradient path of z (the seed's z + sg(zq - z), without round-off).
  const zqValue = f32Affine(codes, 1, 0);
  const zq = record(zqValue, 'vq.straightThrough', [z], (dy) => [identityGrad(dy)]);
  const codebookLoss = mse(stopGradient(z), codes);
  const commitment = mse(z, stopGradient(codes));
  const commitmentLoss = affine(commitment, beta, 0);
  return { zq, indices, commitmentLoss, codebookLoss };
}
