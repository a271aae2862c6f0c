import { stopGradient } from '../autograd/custom.js';
import { record, saveOn } from '../autograd/tape.js';
import { nearestCodes } from '../kernels/vq.js';
import { affine } from '../ops/elementwise.js';
import { mse } from '../ops/losses.js';
import { gather } from '../ops/shape.js';
import { f32Affine } from '../kernels/elementwise.js';
import { checkFloat, checkNumber, checkRank } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import { disposeOnThrow } from '../tensor/scope.js';
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
export function vq(z: Tensor, codebook: Tensor, options: VqOptions | null = {}): VqResult {
  const op = 'ste.vq';
  checkFloat(z, op, 'z');
  checkFloat(codebook, op, 'codebook');
  checkRank(z, op, 'z', 2);
  checkRank(codebook, op, 'codebook', 2);
  const o = readOptions<VqOptions>(options, op);
  const beta = checkNumber(o.beta ?? 0.25, op, 'beta', { min: 0, f32: true });
  // beta scales the loss in float32: a nonzero beta below the normal range would round to 0 or lose its digits.
  if (beta > 0 && beta < 2 ** -126) throw new Error(`${op}: beta = ${beta} must be 0 or a normal float32 value (>= ${2 ** -126}); smaller values round to 0 or lose precision in float32`);
  const [N, D] = z.shape;
  const [K, Dc] = codebook.shape;
  if (Dc !== D) throw new Error(`${op}: codebook must have D = ${D} columns like z (shape [${z.shape}]), got shape [${codebook.shape}]`);
  if (N === 0 || D === 0) {
    throw new Error(`${op}: z has no elements (shape [${z.shape}]); the losses are means over N·D elements, so the batch needs at least one row and one column`);
  }
  if (K === 0) throw new Error(`${op}: codebook has no codes (shape [${codebook.shape}])`);
  return disposeOnThrow(() => quantizeRows(z, codebook, beta, op));
}

function quantizeRows(z: Tensor, codebook: Tensor, beta: number, op: string): VqResult {
  const indices = nearestCodes(z, codebook, op);
  const codes = gather(codebook, indices);
  // zq: the value of codes, the gradient path of z (the seed's z + sg(zq - z), without round-off).
  const zqValue = f32Affine(codes, 1, 0);
  const zq = record(zqValue, 'vq.straightThrough', [z], (dy) => [identityGrad(dy)]);
  // Each loss owns the intermediates its backward pass reads; nothing else stays alive.
  const zConst = stopGradient(z);
  const codebookLoss = mse(zConst, codes);
  const codesConst = stopGradient(codes);
  const commitment = mse(z, codesConst);
  const commitmentLoss = affine(commitment, beta, 0);
  saveOn(codebookLoss, [zConst, codes]);
  saveOn(commitmentLoss, [codesConst, commitment]);
  return { zq, indices, commitmentLoss, codebookLoss };
}
