import { rt } from '../runtime/context.js';
import { f32View, i32View } from '../runtime/views.js';
import { checkDType, checkFloat, checkNumber, checkRank } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import { cachedDerived, markModified } from '../tensor/derived.js';
import { empty, storageOf, type Tensor } from '../tensor/tensor.js';
import { rejectNaN } from './nan.js';
import { produce, withWorkspace } from './workspace.js';
import { parallelTiles, TILE_LENGTH, WORKSPACE } from '../runtime/parallel.js';

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
 * When values are so large that those scores could overflow float32, the
 * squared distances are computed exactly in float64 on the host instead.
 */
export function vqNearest(z: Tensor, codebook: Tensor): Tensor {
  return nearestCodes(z, codebook, 'vqNearest');
}

/** vqNearest, with errors named after the public function `op` that called it. */
export function nearestCodes(z: Tensor, codebook: Tensor, op: string): Tensor {
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
    if (scoresMayOverflow(z, codebook, D, op)) {
      nearestExact(z, codebook, out);
      return;
    }
    const { kernels } = rt();
    // Rows are independent (each tile packs the codebook once): split over rows of z.
    parallelTiles({
      kernel: 'vq_nearest',
      rows: { begin: 0, end: N, align: 4 },
      cost: N * K * Math.max(D, 1),
      workspace: (rows) => kernels.vq_nearest_workspace_bytes(rows, K, D),
      args: [{ c: z.offset, i0: D * 4 }, TILE_LENGTH, codebook.offset, norms, K, D, { c: out.offset, i0: 4 }, WORKSPACE],
    });
  });
}

/** Largest |value| of a float32 tensor (Infinity if it holds one). */
function absMax(t: Tensor): number {
  if (t.size === 0) return 0;
  return withWorkspace(16, (cell) => {
    rt().kernels.absmax_rows_f32(t.offset, 1, t.size, cell);
    return f32View(cell, 1)[0];
  });
}

/**
 * Bounds the kernel's scores: |‖c‖²| <= D·B² and |2 z·c| <= 2·D·A·B with A, B
 * the largest |z| and |c|. Below 3e38 no partial sum can reach float32's
 * maximum (3.4e38), so the kernel's answer is exact to its rounding.
 */
function scoresMayOverflow(z: Tensor, codebook: Tensor, D: number, op: string): boolean {
  const a = absMax(z);
  const b = absMax(codebook);
  // Every distance to or from an infinite value is infinite: no code would be nearer than another.
  if (a === Infinity) throw new Error(`${op}: z contains ±Infinity; distances to the codes would all be infinite`);
  if (b === Infinity) throw new Error(`${op}: codebook contains ±Infinity; distances to that code would all be infinite`);
  return !(D * b * b + 2 * D * a * b <= 3e38);
}

/** argmin_k Σ_d (z_nd − c_kd)² in float64 (exact for float32 inputs up to rounding of the sum); lowest k on ties. */
function nearestExact(z: Tensor, codebook: Tensor, out: Tensor): void {
  const [N, D] = z.shape;
  const K = codebook.shape[0];
  const zv = Float64Array.from(f32View(z.offset, z.size));
  const cv = Float64Array.from(f32View(codebook.offset, codebook.size));
  const result = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    let best = 0;
    let bestDist = Infinity;
    for (let k = 0; k < K; k++) {
      let dist = 0;
      for (let d = 0; d < D; d++) {
        const diff = zv[n * D + d] - cv[k * D + d];
        dist += diff * diff;
      }
      if (dist < bestDist) {
        bestDist = dist;
        best = k;
      }
    }
    result[n] = best;
  }
  i32View(out.offset, N).set(result);
}

/** Tensors that vqEmaUpdate reads or writes in place must not share memory (e.g. codebook passed as its own embedSum). */
function checkNoAliasing(op: string, args: Record<string, Tensor>): void {
  const names = Object.keys(args);
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      if (storageOf(args[names[i]]) === storageOf(args[names[j]])) {
        throw new Error(`${op}: ${names[i]} and ${names[j]} share memory (the same tensor or views of one); each must be a separate tensor, e.g. pass ${names[j]}.mul(1) for a copy`);
      }
    }
  }
}

export interface VqEmaOptions {
  /** EMA decay in [0, 1] (e.g. 0.99). */
  decay: number;
  /** Laplace smoothing added to every cluster size, > 0 (e.g. 1e-5). */
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
  if (options === null || options === undefined) throw new Error(`${op}: options { decay, epsilon } are required`);
  const o = readOptions<VqEmaOptions>(options, op);
  const decay = checkNumber(o.decay, op, 'decay', { min: 0, max: 1 });
  // epsilon > 0 keeps every smoothed cluster size > 0: an unused code is never divided by 0.
  const epsilon = checkNumber(o.epsilon, op, 'epsilon', { positive: true, f32: true });
  checkNoAliasing(op, { z, indices, clusterSize, embedSum, codebook });
  if (K === 0) {
    if (N > 0) throw new Error(`${op}: codebook has no codes but z has ${N} rows`);
    return;
  }
  const sizes = f32View(clusterSize.offset, K);
  let total = 0;
  for (let k = 0; k < K; k++) {
    const v = sizes[k];
    if (!(v >= 0 && v <= 3e38)) throw new Error(`${op}: clusterSize[${k}] = ${v}; cluster sizes must be finite counts >= 0`);
    total += v;
  }
  const n = decay * total + (1 - decay) * N;
  if (!(n > 0)) {
    throw new Error(`${op}: the total cluster size after this update is 0 (clusterSize sums to ${total}, decay = ${decay}, ${N} rows of z), so the codes cannot be normalized; start clusterSize at ones or pass a batch with decay < 1`);
  }
  if ((n + K * epsilon) * 1.001 > 3.4e38) {
    throw new Error(`${op}: epsilon = ${epsilon} is too large: the smoothed total n + K·epsilon (K = ${K}) overflows float32; use a small epsilon such as 1e-5`);
  }
  // smooth_k >= epsilon / (n + K·epsilon) · n must stay a normal float32, or an unused code divides by 0.
  if (epsilon / (n + K * epsilon) < 2 ** -126 || (epsilon / (n + K * epsilon)) * n < 2 ** -126) {
    throw new Error(`${op}: epsilon = ${epsilon} is too small for a total cluster size of ${n} and K = ${K}: unused codes would be divided by 0 in float32; use epsilon >= ${Math.max(1e-30, (2 ** -126) * (n + 1))}`);
  }
  const { kernels } = rt();
  const bad = kernels.i32_find_out_of_range(indices.offset, N, 0, K);
  if (bad >= 0) throw new Error(`${op}: indices[${bad}] must be in [0, ${K}), got ${indices.dataSync()[bad]}`);
  rejectNaN(z, op, 'z');
  if (absMax(z) === Infinity) throw new Error(`${op}: z contains ±Infinity, which would make the codes it is assigned to infinite`);
  withWorkspace(kernels.vq_ema_workspace_bytes(K, D), (work) =>
    kernels.vq_ema_update(z.offset, indices.offset, N, K, D, clusterSize.offset, embedSum.offset, codebook.offset, decay, epsilon, work));
  markModified(clusterSize);
  markModified(embedSum);
  markModified(codebook);
}
