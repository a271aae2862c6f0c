import { rt } from '../runtime/context.js';
import { checkDType, checkFloat, checkNumber, checkRank } from '../tensor/checks.js';
import { cachedDerived, markModified } from '../tensor/derived.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { rejectNaN } from './nan.js';
import { produce, withWorkspace } from './workspace.js';

/** ‖c_k‖² per code, cached with the codebook; computing it also rejects NaN in the codebook (cached alike). */
function codebookNorms(codebook: Tensor, op: string): number {
  const [K, D] = codebook.shape;
  return cachedDerived(codebook, 'vq.norms', Math.max(K * 4, 4), (off) => {
    rejectNaN(codebook, op, 'codebook');
    rt().kernels.vq_codebook_norms(codebook.offset, K, D, off);
  });
}

/**
 * Index of the nearest code (squared L2) for every row of z: z float32
 * [N, D], codebook float32 [K, D] -> int32 [N]. Lowest index on ties.
 * Scores are ‖c_k‖² − 2 z·c_k in f32 (see assembly/vq.ts for the exact order).
 */
export function vqNearest(z: Tensor, codebook: Tensor): Tensor {
  const op = 'vqNearest';
  checkFloat(z, op, 'z');
  checkFloat(codebook, op, 'codebook');
  checkRank(z, op, 'z', 2);
  checkRank(codebook, op, 'codebook', 2);
  const [N, D] = z.shape;
  const [K, Dc] = codebook.shape;
  if (Dc !== D) throw new Error(`${op}: codebook must have D = ${D} columns like z (shape [${z.shape}]), got shape [${codebook.shape}]`);
  if (K === 0 && N > 0) throw new Error(`${op}: codebook has no codes (shape [${codebook.shape}]) but z has ${N} rows`);
  rejectNaN(z, op, 'z');
  const out = empty([N], 'int32');
  if (N === 0) return out;
  return produce(out, () => {
    const norms = codebookNorms(codebook, op);
    const { kernels } = rt();
    withWorkspace(kernels.vq_nearest_workspace_bytes(N, K, D), (work) => kernels.vq_nearest(z.offset, N, codebook.offset, norms, K, D, out.offset, work));
  });
}

export interface VqEmaOptions {
  /** EMA decay in [0, 1] (e.g. 0.99). */
  decay: number;
  /** Laplace smoothing added to every cluster size, >= 0 (e.g. 1e-5). */
  epsilon: number;
}

/**
 * EMA codebook update, in place on clusterSize [K], embedSum [K, D] and
 * codebook [K, D] (each is markModified, so cached norms are rebuilt):
 * size = decay·size + (1−decay)·counts, embed = decay·embed + (1−decay)·Σ z,
 * codebook_k = embed_k / ((size_k + eps) / (n + K·eps) · n) with n = Σ size.
 */
export function vqEmaUpdate(z: Tensor, indices: Tensor, clusterSize: Tensor, embedSum: Tensor, codebook: Tensor, options: VqEmaOptions): void {
  const op = 'vqEmaUpdate';
  checkFloat(z, op, 'z');
  checkDType(indices, op, 'indices', 'int32');
  checkFloat(clusterSize, op, 'clusterSize');
  checkFloat(embedSum, op, 'embedSum');
  checkFloat(codebook, op, 'codebook');
  checkRank(z, op, 'z', 2);
  checkRank(indices, op, 'indices', 1);
  checkRank(clusterSize, op, 'clusterSize', 1);
  checkRank(embedSum, op, 'embedSum', 2);
  checkRank(codebook, op, 'codebook', 2);
  const [N, D] = z.shape;
  const K = codebook.shape[0];
  if (codebook.shape[1] !== D) throw new Error(`${op}: codebook must be [K, ${D}] like z's rows, got shape [${codebook.shape}]`);
  if (indices.shape[0] !== N) throw new Error(`${op}: indices must have ${N} entries (one per z row), got shape [${indices.shape}]`);
  if (clusterSize.shape[0] !== K) throw new Error(`${op}: clusterSize must be [${K}] (one per code), got shape [${clusterSize.shape}]`);
  if (embedSum.shape[0] !== K || embedSum.shape[1] !== D) throw new Error(`${op}: embedSum must be [${K}, ${D}] like codebook, got shape [${embedSum.shape}]`);
  if (options === null || typeof options !== 'object') throw new Error(`${op}: options { decay, epsilon } are required`);
  const decay = checkNumber(options.decay, op, 'decay', { min: 0, max: 1 });
  const epsilon = checkNumber(options.epsilon, op, 'epsilon', { min: 0 });
  if (K === 0) {
    if (N > 0) throw new Error(`${op}: codebook has no codes but z has ${N} rows`);
    return;
  }
  const { kernels } = rt();
  const bad = kernels.i32_find_out_of_range(indices.offset, N, 0, K);
  if (bad >= 0) throw new Error(`${op}: indices[${bad}] must be in [0, ${K}), got ${indices.dataSync()[bad]}`);
  rejectNaN(z, op, 'z');
  withWorkspace(kernels.vq_ema_workspace_bytes(K, D), (work) =>
    kernels.vq_ema_update(z.offset, indices.offset, N, K, D, clusterSize.offset, embedSum.offset, codebook.offset, decay, epsilon, work));
  markModified(clusterSize);
  markModified(embedSum);
  markModified(codebook);
}
