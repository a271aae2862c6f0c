import { composite, noGrad } from '../autograd/tape.js';
import { vqEmaUpdate, vqNearest } from '../kernels/vq.js';
import { add } from '../ops/elementwise.js';
import { l2Normalize, vq, type VqResult } from '../ste/vq.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { full, randn, zeros } from '../tensor/creation.js';
import { markModified } from '../tensor/derived.js';
import type { Tensor } from '../tensor/tensor.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { checkFinite, checkInputTensor, checkStateRange, F32_MAX, seedOption } from './guard.js';
import { layerSeed } from './init.js';
import { Module } from './module.js';
import type { Macs } from '../freeze/types.js';
import { rawF32, rawI32 } from '../tensor/tensor.js';

export interface VectorQuantizerOptions {
  /** Commitment weight (default 0.25). */
  beta?: number;
  /** Update the codebook by exponential moving averages (default true) instead of by gradient (codebookLoss). */
  ema?: boolean;
  /** EMA decay (default 0.99). */
  decay?: number;
  /** Laplace smoothing of the EMA cluster sizes, 1e-30..1 (default 1e-5). */
  epsilon?: number;
  /** Initialize the codebook by k-means on the first training batch (default true). */
  kmeansInit?: boolean;
  /** Lloyd iterations of the k-means initialization, 0..1000 (MAX_KMEANS_ITERS; default 10). */
  kmeansIters?: number;
  /** Codes whose EMA cluster size falls below this are replaced by random batch vectors (default 1; 0 disables). */
  deadCodeThreshold?: number;
  /** Gradient to z by the rotation trick (Fifty et al. 2025) instead of straight through (default false); see ste.vq. */
  rotationTrick?: boolean;
  /** Cosine-similarity codebook: z rows and codes are l2-normalized, nearest = most similar (default false). */
  cosine?: boolean;
  /**
   * In training, sample codes from softmax(−‖z − c‖² / temperature) (default 0: nearest).
   * Eval mode always takes the nearest code. The draws are seeded by the layer's seed.
   */
  temperature?: number;
  seed?: number;
}

export interface QuantizeResult extends VqResult {
  /** The loss to add to the model's: commitment (EMA mode) or codebook + commitment (gradient mode). */
  loss: Tensor;
  /** exp(entropy) of code usage in this batch: K when all codes are used equally, 1 when one code is used. */
  perplexity: number;
  /** Fraction of codes used at least once in this batch. */
  usage: number;
}

/** Most k-means iterations (each is one nearest-code search over the batch); more would only stall the first step. */
export const MAX_KMEANS_ITERS = 1000;
/** Most codes and most dimensions per code. */
export const MAX_CODES = 2 ** 16;
export const MAX_CODE_DIM = 2 ** 16;

/**
 * The VQ-VAE bottleneck as a layer: z [N, dim] -> nearest of numCodes codes,
 * straight-through gradient to z. With EMA (default), the codebook is a
 * buffer updated from batch statistics (cluster sizes and sums, decay,
 * Laplace smoothing), initialized by k-means on the first batch, and dead codes
 * are replaced by batch vectors.
 */
export class VectorQuantizer extends Module {
  readonly beta: number;
  readonly ema: boolean;
  readonly decay: number;
  readonly epsilon: number;
  readonly kmeansInit: boolean;
  readonly kmeansIters: number;
  readonly deadCodeThreshold: number;
  readonly rotationTrick: boolean;
  readonly cosine: boolean;
  readonly temperature: number;
  private rng: number;

  constructor(readonly numCodes: number, readonly dim: number, options: VectorQuantizerOptions | null = {}) {
    super();
    const op = 'VectorQuantizer';
    checkNumber(numCodes, op, 'numCodes', { integer: true, min: 1, max: MAX_CODES });
    checkNumber(dim, op, 'dim', { integer: true, min: 1, max: MAX_CODE_DIM });
    if (numCodes * dim > 2 ** 28) throw new Error(`${op}: a codebook of ${numCodes} x ${dim} has more than 2^28 elements (1 GiB of float32); use fewer codes or dimensions`);
    const o = readOptions<VectorQuantizerOptions>(options, op);
    this.beta = checkNumber(o.beta ?? 0.25, op, 'beta', { min: 0, max: F32_MAX });
    this.ema = boolOption(o.ema, op, 'ema', true);
    this.decay = checkNumber(o.decay ?? 0.99, op, 'decay', { min: 0, max: 1 });
    // A smoothing term that rounds to 0 in float32 would divide 0 by 0 for an unused code.
    this.epsilon = checkNumber(o.epsilon ?? 1e-5, op, 'epsilon', { min: 1e-30, max: 1 });
    this.kmeansInit = boolOption(o.kmeansInit, op, 'kmeansInit', true);
    this.kmeansIters = checkNumber(o.kmeansIters ?? 10, op, 'kmeansIters', { integer: true, min: 0, max: MAX_KMEANS_ITERS });
    this.deadCodeThreshold = checkNumber(o.deadCodeThreshold ?? 1, op, 'deadCodeThreshold', { min: 0, max: F32_MAX });
    this.rotationTrick = boolOption(o.rotationTrick, op, 'rotationTrick');
    this.cosine = boolOption(o.cosine, op, 'cosine');
    this.temperature = checkNumber(o.temperature ?? 0, op, 'temperature', { min: 0, max: F32_MAX });
    if (this.temperature > 0 && this.temperature < 2 ** -126) throw new Error(`${op}: temperature = ${this.temperature} must be 0 (nearest code) or a normal float32 value (>= ${2 ** -126})`);
    this.rng = layerSeed(seedOption(o.seed, op));
    const codebook = randn([numCodes, dim], { seed: this.rng });
    if (this.ema) {
      this.registerBuffer('codebook', codebook);
      this.registerBuffer('clusterSize', zeros([numCodes]));
      this.registerBuffer('embedSum', zeros([numCodes, dim]));
    } else {
      this.registerParameter('codebook', codebook);
    }
    this.registerBuffer('initialized', full([], this.kmeansInit ? 0 : 1));
  }

  protected override checkStateValue(name: string, value: Tensor, fullName = name): void {
    if (name === 'codebook' || name === 'embedSum') checkStateRange(value, 'VectorQuantizer', fullName);
    else if (name === 'clusterSize') checkStateRange(value, 'VectorQuantizer', fullName, 0);
    else if (name === 'initialized') {
      const v = value.item();
      if (v !== 0 && v !== 1) throw new Error(`loadStateDict: state["${fullName}"] is ${v}, but VectorQuantizer needs 0 or 1; the model was left unchanged`);
    } else super.checkStateValue(name, value, fullName);
  }

  get codebook(): Tensor {
    return this.ema ? this.buffer('codebook') : this.param('codebook');
  }

  /** The quantized z only: the indices and losses quantize() also returns are freed (use quantize() to keep them). */
  forward(z: Tensor): Tensor {
    checkInputTensor(z, 'VectorQuantizer', 'z');
    return composite(() => this.quantize(z).zq);
  }

  /** Distances to every code: one multiply-add per code and dimension, per row (no frozen form). */
  summaryMacs(input: readonly number[]): Macs {
    return { binary: 0, binaryWeights: 0, int8: 0, float: (input.length === 0 ? 1 : input[0]) * this.numCodes * this.dim };
  }

  inputWidth(): number {
    return this.dim;
  }

  quantize(z: Tensor): QuantizeResult {
    checkInputTensor(z, 'VectorQuantizer', 'z');
    checkFloat(z, 'VectorQuantizer', 'z');
    if (z.rank !== 2 || z.shape[1] !== this.dim) throw new Error(`VectorQuantizer: z must have shape [N, ${this.dim}], got [${z.shape}]`);
    this.checkAlive('VectorQuantizer');
    if (z.shape[0] === 0) throw new Error(`VectorQuantizer: z must have at least one row, got shape [${z.shape}]; skip empty batches`);
    // Checked before anything is written: one Infinity would reach the codebook through k-means or the EMA.
    checkFinite(z, 'VectorQuantizer', 'z', 'the codebook and its statistics were left unchanged');
    // A cosine codebook's statistics are those of the unit rows (the codes are normalized again at every lookup).
    const stats = (fn: (rows: Tensor) => void): void =>
      noGrad(() => {
        const rows = this.cosine ? l2Normalize(z) : z;
        try {
          fn(rows);
        } finally {
          if (rows !== z) rows.dispose();
        }
      });
    if (this.training && this.buffer('initialized').item() === 0 && z.shape[0] > 0) stats((rows) => this.#kmeans(rows));
    const sampling = this.training && this.temperature > 0;
    const result = vq(z, this.codebook, {
      beta: this.beta, rotationTrick: this.rotationTrick, cosine: this.cosine,
      ...(sampling ? { temperature: this.temperature, seed: Math.floor(this.#nextRandom() * 4294967296) } : {}),
    });
    const { perplexity, usage } = this.#usageStats(result.indices);
    if (this.training && this.ema) {
      stats((rows) => {
        vqEmaUpdate(rows, result.indices, this.buffer('clusterSize'), this.buffer('embedSum'), this.codebook, { decay: this.decay, epsilon: this.epsilon });
        if (this.deadCodeThreshold > 0) this.#replaceDeadCodes(rows);
      });
    }
    const loss = this.ema ? result.commitmentLoss : add(result.codebookLoss, result.commitmentLoss);
    return { ...result, loss, perplexity, usage };
  }

  #nextRandom(): number {
    this.rng = (Math.imul(this.rng, 1664525) + 1013904223) >>> 0;
    return this.rng / 4294967296;
  }

  /** Lloyd's k-means on the batch, seeded by k-means++ (rows drawn in proportion to their squared distance to the codes so far); empty clusters keep their seed. */
  #kmeans(z: Tensor): void {
    const [N, D] = z.shape;
    const K = this.numCodes;
    const codebook = this.codebook;
    {
      const zv = rawF32(z);
      const cv = rawF32(codebook);
      const nearest = new Float64Array(N).fill(Infinity);
      let pick = Math.floor(this.#nextRandom() * N);
      for (let k = 0; k < K; k++) {
        cv.set(zv.subarray(pick * D, pick * D + D), k * D);
        let total = 0;
        for (let i = 0; i < N; i++) {
          let d2 = 0;
          for (let d = 0; d < D; d++) d2 += (zv[i * D + d] - cv[k * D + d]) ** 2;
          if (d2 < nearest[i]) nearest[i] = d2;
          total += nearest[i];
        }
        if (total === 0) {
          pick = Math.floor(this.#nextRandom() * N);
          continue;
        }
        let target = this.#nextRandom() * total;
        pick = N - 1;
        for (let i = 0; i < N; i++) {
          target -= nearest[i];
          if (target < 0) {
            pick = i;
            break;
          }
        }
      }
    }
    markModified(codebook);
    const counts = new Float64Array(K);
    for (let iter = 0; iter < this.kmeansIters; iter++) {
      const idx = vqNearest(z, codebook);
      const iv = rawI32(idx);
      const zv = rawF32(z);
      const sums = new Float64Array(K * D);
      counts.fill(0);
      for (let i = 0; i < N; i++) {
        const k = iv[i];
        counts[k]++;
        for (let d = 0; d < D; d++) sums[k * D + d] += zv[i * D + d];
      }
      idx.dispose();
      const cv = rawF32(codebook);
      for (let k = 0; k < K; k++) if (counts[k] > 0) for (let d = 0; d < D; d++) cv[k * D + d] = sums[k * D + d] / counts[k];
      markModified(codebook);
    }
    if (this.ema) {
      // Start the EMA statistics from the k-means clusters.
      const cs = rawF32(this.buffer('clusterSize'));
      const es = rawF32(this.buffer('embedSum'));
      const cv = rawF32(codebook);
      for (let k = 0; k < K; k++) {
        cs[k] = counts[k];
        for (let d = 0; d < D; d++) es[k * D + d] = cv[k * D + d] * counts[k];
      }
      markModified(this.buffer('clusterSize'));
      markModified(this.buffer('embedSum'));
    }
    rawF32(this.buffer('initialized'))[0] = 1;
  }

  /** Codes whose EMA cluster size is below the threshold take a random batch vector. */
  #replaceDeadCodes(z: Tensor): void {
    const [N, D] = z.shape;
    if (N === 0) return;
    const K = this.numCodes;
    const cs = rawF32(this.buffer('clusterSize'));
    const es = rawF32(this.buffer('embedSum'));
    const cv = rawF32(this.codebook);
    const zv = rawF32(z);
    let replaced = 0;
    for (let k = 0; k < K; k++) {
      if (cs[k] >= this.deadCodeThreshold) continue;
      const row = Math.floor(this.#nextRandom() * N);
      for (let d = 0; d < D; d++) {
        cv[k * D + d] = zv[row * D + d];
        es[k * D + d] = zv[row * D + d] * this.deadCodeThreshold;
      }
      cs[k] = this.deadCodeThreshold;
      replaced++;
    }
    if (replaced > 0) {
      markModified(this.codebook);
      markModified(this.buffer('clusterSize'));
      markModified(this.buffer('embedSum'));
    }
  }

  #usageStats(indices: Tensor): { perplexity: number; usage: number } {
    const n = indices.size;
    if (n === 0) return { perplexity: 0, usage: 0 };
    const counts = new Float64Array(this.numCodes);
    const iv = rawI32(indices);
    for (let i = 0; i < n; i++) counts[iv[i]]++;
    let entropy = 0;
    let used = 0;
    for (const c of counts) {
      if (c === 0) continue;
      used++;
      const p = c / n;
      entropy -= p * Math.log(p);
    }
    return { perplexity: Math.exp(entropy), usage: used / this.numCodes };
  }
}
