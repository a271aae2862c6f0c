import { composite, noGrad } from '../autograd/tape.js';
import { stopGradient } from '../autograd/custom.js';
import { rejectNaN } from '../kernels/nan.js';
import { add, affine, log, maximum, mul, neg, sub } from '../ops/elementwise.js';
import { logSoftmax, mse, softmax } from '../ops/losses.js';
import { matmul } from '../ops/matmul.js';
import { mean, sum } from '../ops/reduce.js';
import { reshape } from '../ops/shape.js';
import { binarize } from '../ste/sign.js';
import { checkFloat, checkNumber, F32_MAX } from '../tensor/checks.js';
import { tensor } from '../tensor/creation.js';
import { readOptions } from '../tensor/options.js';
import { empty, rawF32, rawI32, type Tensor } from '../tensor/tensor.js';
import type { FreezeContext, FrozenStage, Macs } from '../freeze/types.js';
import { checkCodeIndices, checkInputTensor } from './guard.js';
import { Module } from './module.js';

/** Most bits per code (indices are exact int32). */
export const LFQ_MAX_CODE_DIM = 30;
/**
 * Most bits per code for the entropy loss, which enumerates all 2^codeDim
 * codes: it holds a few [rows, 2^codeDim] float32 tensors (at 2^14 codes and
 * 1024 rows, 64 MiB each).
 */
export const LFQ_MAX_ENTROPY_CODE_DIM = 14;

export interface LFQOptions {
  /** Weight of the entropy loss in `loss` (default 0.1; 0 skips it, and any codeDim up to 30 is allowed). */
  entropyLossWeight?: number;
  /** Weight of the batch (codebook) entropy, which the entropy loss maximizes (default 1). */
  diversityGamma?: number;
  /** Weight of the commitment loss mean((z − sg(codes))²) (default 0.25). */
  commitmentWeight?: number;
  /** Temperature of the softmax over codes that the entropies are computed from (default 0.01). */
  temperature?: number;
}

export interface LfqResult {
  /** ±1 per channel (+1 where z >= 0, as ste.binarize), z's shape; the gradient goes straight through. */
  codes: Tensor;
  /** int32, z's shape without its last axis: Σ_i bit_i · 2^i with bit_i = 1 where code i is +1. */
  indices: Tensor;
  /** Mean over rows of the entropy of each row's code distribution (minimized: confident assignments). Absent when entropyLossWeight is 0. */
  perSampleEntropy: Tensor | null;
  /** Entropy of the batch-average code distribution (maximized: all codes used). Absent when entropyLossWeight is 0. */
  codebookEntropy: Tensor | null;
  /** perSampleEntropy − diversityGamma · codebookEntropy (unweighted). Absent when entropyLossWeight is 0. */
  entropyLoss: Tensor | null;
  /** commitmentWeight · mean((z − sg(codes))²). */
  commitmentLoss: Tensor;
  /** entropyLossWeight · entropyLoss + commitmentLoss: the loss to add to the model's. */
  loss: Tensor;
  /** exp(entropy) of the codes used in this batch. */
  perplexity: number;
  /** Fraction of the 2^codeDim codes used at least once in this batch. */
  usage: number;
}

/**
 * Lookup-free quantization (Yu et al., "Language Model Beats Diffusion —
 * Tokenizer is Key to Visual Generation", MAGVIT-v2, 2023): each of the
 * codeDim channels of z [..., codeDim] becomes ±1 (straight-through sign), and
 * the code's index is its bits, so the implicit codebook {−1, 1}^codeDim is
 * never searched. The entropy loss (per-sample entropy minus the batch
 * entropy, from softmax(−‖z − c‖² / temperature) over all 2^codeDim codes)
 * keeps the codes confident and all in use. Frozen as a binarize stage.
 */
export class LFQ extends Module {
  readonly entropyLossWeight: number;
  readonly diversityGamma: number;
  readonly commitmentWeight: number;
  readonly temperature: number;
  readonly codebookSize: number;
  /** {−1, 1}^codeDim in index order, [2^codeDim, codeDim] (only with the entropy loss); each entropy's graph makes its own tensor of it. */
  #implicit: Float32Array | null = null;

  constructor(readonly codeDim: number, options: LFQOptions | null = {}) {
    super();
    const op = 'LFQ';
    checkNumber(codeDim, op, 'codeDim', { integer: true, min: 1, max: LFQ_MAX_CODE_DIM });
    const o = readOptions<LFQOptions>(options, op);
    this.entropyLossWeight = checkNumber(o.entropyLossWeight ?? 0.1, op, 'entropyLossWeight', { min: 0, max: F32_MAX });
    this.diversityGamma = checkNumber(o.diversityGamma ?? 1, op, 'diversityGamma', { min: 0, max: F32_MAX });
    this.commitmentWeight = checkNumber(o.commitmentWeight ?? 0.25, op, 'commitmentWeight', { min: 0, max: F32_MAX });
    this.temperature = checkNumber(o.temperature ?? 0.01, op, 'temperature', { positive: true, f32: true, max: F32_MAX });
    if (2 / this.temperature > F32_MAX) throw new Error(`${op}: temperature = ${this.temperature} is too small: 2 / temperature overflows float32`);
    if (this.entropyLossWeight > 0 && codeDim > LFQ_MAX_ENTROPY_CODE_DIM) {
      throw new Error(`${op}: the entropy loss enumerates all 2^codeDim codes, so it needs codeDim <= ${LFQ_MAX_ENTROPY_CODE_DIM}, got ${codeDim}; pass entropyLossWeight: 0 for larger codes`);
    }
    this.codebookSize = 2 ** codeDim;
    if (this.entropyLossWeight > 0) {
      const K = this.codebookSize;
      const cv = new Float32Array(K * codeDim).fill(-1);
      for (let k = 0; k < K; k++) for (let i = 0; i < codeDim; i++) if ((k >>> i) & 1) cv[k * codeDim + i] = 1;
      this.#implicit = cv;
    }
  }

  /** The ±1 codes of z [..., codeDim]. */
  forward(z: Tensor): Tensor {
    this.#check(z, 'LFQ.forward');
    return binarize(z);
  }

  quantize(z: Tensor): LfqResult {
    this.#check(z, 'LFQ.quantize');
    if (this.#implicit !== null) {
      // The entropy's logits 2·z·c/τ must stay finite, or the softmax gives NaN.
      const limit = (3e38 * this.temperature) / (2 * this.codeDim);
      const v = rawF32(z);
      for (let i = 0; i < v.length; i++) {
        if (!(Math.abs(v[i]) <= limit)) throw new Error(`LFQ.quantize: z element ${i} is ${v[i]}; with the entropy loss (temperature ${this.temperature}, codeDim ${this.codeDim}) |z| must be <= ${limit.toPrecision(3)} so that its logits stay finite in float32`);
      }
    }
    const codes = binarize(z);
    const indices = noGrad(() => this.codesToIndices(codes));
    const commitmentLoss = composite(() => affine(mse(z, stopGradient(codes)), this.commitmentWeight, 0));
    let entropy: { perSampleEntropy: Tensor; codebookEntropy: Tensor; entropyLoss: Tensor } | null = null;
    let loss = commitmentLoss;
    if (this.#implicit !== null) {
      entropy = this.#entropies(z);
      loss = composite(() => add(affine(entropy!.entropyLoss, this.entropyLossWeight, 0), commitmentLoss));
    }
    const { perplexity, usage } = this.#usageStats(indices);
    return {
      codes, indices, commitmentLoss, loss, perplexity, usage,
      perSampleEntropy: entropy?.perSampleEntropy ?? null, codebookEntropy: entropy?.codebookEntropy ?? null, entropyLoss: entropy?.entropyLoss ?? null,
    };
  }

  /** int32 indices [...] of ±1 codes [..., codeDim] (bit i set where channel i is +1). */
  codesToIndices(codes: Tensor): Tensor {
    const op = 'LFQ.codesToIndices';
    checkFloat(codes, op, 'codes');
    this.#checkShape(codes, op, 'codes');
    const D = this.codeDim;
    const cv = rawF32(codes);
    for (let i = 0; i < cv.length; i++) if (cv[i] !== 1 && cv[i] !== -1) throw new Error(`${op}: codes element ${i} is ${cv[i]}; LFQ codes are -1 or 1`);
    const out = empty(codes.shape.slice(0, -1), 'int32');
    const ov = rawI32(out);
    const v = rawF32(codes);
    for (let n = 0; n < out.size; n++) {
      let index = 0;
      for (let i = 0; i < D; i++) if (v[n * D + i] > 0) index += 2 ** i;
      ov[n] = index;
    }
    return out;
  }

  /** ±1 codes float32 [..., codeDim] of int32 indices [...] in [0, 2^codeDim). */
  indicesToCodes(indices: Tensor): Tensor {
    const op = 'LFQ.indicesToCodes';
    checkCodeIndices(indices, op, this.codebookSize, () => `[0, 2^${this.codeDim})`);
    const D = this.codeDim;
    const out = empty([...indices.shape, D], 'float32');
    const ov = rawF32(out);
    const idx = rawI32(indices);
    for (let n = 0; n < idx.length; n++) for (let i = 0; i < D; i++) ov[n * D + i] = Math.floor(idx[n] / 2 ** i) % 2 === 1 ? 1 : -1;
    return out;
  }

  /** In eval mode LFQ is ste.binarize's forward: the frozen binarize stage (which bit-packs for a following binary layer). */
  freezeStage(ctx: FreezeContext): FrozenStage {
    return ctx.stage('binarize', {}, {});
  }

  /** No multiply-accumulates: a sign per element (the entropy loss is training only). */
  summaryMacs(): Macs {
    return { binary: 0, binaryWeights: 0, int8: 0, float: 0 };
  }

  inputWidth(): number {
    return this.codeDim;
  }

  /**
   * p = softmax(−‖z − c‖² / τ) over the implicit codes, computed as
   * softmax(2 z·cᵀ / τ) (‖z‖² and ‖c‖² = codeDim are constant along a row).
   * Each entropy is its own composite, so each owns what its backward reads.
   */
  #entropies(z: Tensor): { perSampleEntropy: Tensor; codebookEntropy: Tensor; entropyLoss: Tensor } {
    const implicit = this.#implicit!;
    const codes = (): Tensor => tensor(implicit, [this.codebookSize, this.codeDim]);
    const logits = (): Tensor => affine(matmul(reshape(z, [-1, this.codeDim]), codes(), { transposeB: true }), 2 / this.temperature, 0);
    const perSampleEntropy = composite(() => {
      const l = logits();
      return neg(mean(sum(mul(softmax(l), logSoftmax(l)), { axis: -1 })));
    });
    const codebookEntropy = composite(() => {
      const avg = mean(softmax(logits()), { axis: 0 });
      // log of a floor: an unused code (p = 0) contributes 0, not 0 · −Infinity.
      return neg(sum(mul(avg, log(maximum(avg, 1e-30)))));
    });
    const entropyLoss = composite(() => sub(perSampleEntropy, affine(codebookEntropy, this.diversityGamma, 0)));
    return { perSampleEntropy, codebookEntropy, entropyLoss };
  }

  #usageStats(indices: Tensor): { perplexity: number; usage: number } {
    const counts = new Map<number, number>();
    const iv = rawI32(indices);
    for (let i = 0; i < iv.length; i++) counts.set(iv[i], (counts.get(iv[i]) ?? 0) + 1);
    let entropy = 0;
    for (const c of counts.values()) entropy -= (c / iv.length) * Math.log(c / iv.length);
    return { perplexity: Math.exp(entropy), usage: counts.size / this.codebookSize };
  }

  #checkShape(x: Tensor, op: string, arg: string): void {
    if (x.rank === 0 || x.shape[x.rank - 1] !== this.codeDim) throw new Error(`${op}: ${arg} must have shape [..., ${this.codeDim}] (codeDim channels), got [${x.shape}]`);
  }

  #check(z: Tensor, op: string): void {
    checkInputTensor(z, 'LFQ', 'z');
    checkFloat(z, op, 'z');
    this.#checkShape(z, op, 'z');
    if (z.size === 0) throw new Error(`${op}: z has no rows (shape [${z.shape}]); skip empty batches`);
    rejectNaN(z, op, 'z');
  }
}
