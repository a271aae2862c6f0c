import { composite, noGrad, saveOn } from '../autograd/tape.js';
import { stopGradient } from '../autograd/custom.js';
import { add, sub } from '../ops/elementwise.js';
import { gather } from '../ops/shape.js';
import { l2Normalize } from '../ste/vq.js';
import { checkDType, checkFloat, checkNumber } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import { disposeOnThrow } from '../tensor/scope.js';
import { empty, rawI32, type Tensor } from '../tensor/tensor.js';
import type { Macs } from '../freeze/types.js';
import { checkInputTensor, seedOption } from './guard.js';
import { layerSeed } from './init.js';
import { Module } from './module.js';
import { VectorQuantizer, type QuantizeResult, type VectorQuantizerOptions } from './vector-quantizer.js';

/** Most stages. */
export const RVQ_MAX_STAGES = 64;

export interface ResidualQuantizeResult {
  /** Σ of the stages' codes, z's shape. */
  zq: Tensor;
  /** int32 [N, numStages]: stage s's code of row n at [n, s]. */
  indices: Tensor;
  /** Σ of the stages' commitment losses. */
  commitmentLoss: Tensor;
  /** Σ of the stages' codebook losses. */
  codebookLoss: Tensor;
  /** commitment (EMA codebooks) or codebook + commitment (gradient codebooks), summed over stages. */
  loss: Tensor;
  /** Each stage's perplexity in this batch. */
  perplexity: number[];
  /** Each stage's fraction of codes used in this batch. */
  usage: number[];
}

/**
 * Residual vector quantization (SoundStream, Zeghidour et al. 2021; Encodec):
 * stage 0 quantizes z, stage s quantizes what the stages before it left,
 * r_s = z − Σ_{j<s} sg(q_j), and the output is Σ_s q_s. Every stage is a
 * VectorQuantizer with the shared options (its own seed, derived from the
 * layer's), so EMA or gradient codebooks, k-means init, dead-code
 * replacement, the rotation trick, cosine codebooks and sampling work per
 * stage. The residuals stop the gradient of earlier codes (as recent
 * vector-quantize-pytorch does; Encodec and its early versions subtract the
 * straight-through code instead, which cancels every stage's path but the
 * first), so each stage passes its own gradient to z (n·dy in total with the
 * plain straight-through estimator) and every stage's commitment loss
 * reaches the encoder.
 */
export class ResidualVQ extends Module {
  readonly stages: readonly VectorQuantizer[];

  constructor(readonly numStages: number, readonly numCodes: number, readonly dim: number, options: VectorQuantizerOptions | null = {}) {
    super();
    const op = 'ResidualVQ';
    checkNumber(numStages, op, 'numStages', { integer: true, min: 1, max: RVQ_MAX_STAGES });
    const o = readOptions<VectorQuantizerOptions>(options, op);
    const seed = layerSeed(seedOption(o.seed, op));
    const stages: VectorQuantizer[] = [];
    try {
      for (let s = 0; s < numStages; s++) {
        stages.push(this.registerModule(`stage${s}`, new VectorQuantizer(numCodes, dim, { ...o, seed: (seed + Math.imul(s, 0x9e3779b9)) >>> 0 })));
      }
    } catch (err) {
      // A bad shared option fails in stage 0, before anything is allocated; the message names VectorQuantizer's argument.
      for (const q of stages) q.dispose();
      throw new Error(`${op}: ${(err as Error).message}`);
    }
    this.stages = Object.freeze(stages);
  }

  /** The quantized z only (Σ of the stages' codes). */
  forward(z: Tensor): Tensor {
    checkInputTensor(z, 'ResidualVQ', 'z');
    return composite(() => this.quantize(z).zq);
  }

  /**
   * Quantizes z [N, dim] stage by stage. The residuals are intermediates of
   * every output's graph; they are freed with zq, so call backward on the
   * losses before disposing zq.
   */
  quantize(z: Tensor): ResidualQuantizeResult {
    checkInputTensor(z, 'ResidualVQ', 'z');
    checkFloat(z, 'ResidualVQ', 'z');
    if (z.rank !== 2 || z.shape[1] !== this.dim) throw new Error(`ResidualVQ: z must have shape [N, ${this.dim}], got [${z.shape}]`);
    if (z.shape[0] === 0) throw new Error(`ResidualVQ: z must have at least one row, got shape [${z.shape}]; skip empty batches`);
    const results: QuantizeResult[] = [];
    const residuals: Tensor[] = [];
    const parts: Tensor[] = [];
    try {
      let residual = z;
      for (const [s, stage] of this.stages.entries()) {
        const r = stage.quantize(residual);
        results.push(r);
        if (s + 1 < this.numStages) {
          const held = stopGradient(r.zq);
          residual = sub(residual, held);
          residuals.push(residual);
          held.dispose();
        }
      }
      // A total owns its per-stage terms and partial sums (saveOn frees them at once when nothing was recorded).
      const total = (terms: Tensor[], extra: Tensor[] = []): Tensor => {
        if (terms.length === 1) return terms[0];
        let acc = add(terms[0], terms[1]);
        parts.push(acc);
        const partials: Tensor[] = [];
        for (const t of terms.slice(2)) {
          partials.push(acc);
          acc = add(acc, t);
          parts.push(acc);
        }
        saveOn(acc, [...terms, ...partials, ...extra]);
        return acc;
      };
      const zq = total(results.map((r) => r.zq), residuals);
      const commitmentLoss = total(results.map((r) => r.commitmentLoss));
      const codebookLoss = total(results.map((r) => r.codebookLoss));
      const loss = this.stages[0].ema ? commitmentLoss : add(codebookLoss, commitmentLoss);
      const indices = this.#stackIndices(results.map((r) => r.indices));
      for (const r of results) {
        if (r.loss !== r.commitmentLoss) r.loss.dispose();
        r.indices.dispose();
      }
      return { zq, indices, commitmentLoss, codebookLoss, loss, perplexity: results.map((r) => r.perplexity), usage: results.map((r) => r.usage) };
    } catch (err) {
      for (const r of results) for (const t of [r.zq, r.indices, r.commitmentLoss, r.codebookLoss, r.loss]) t.dispose();
      for (const t of [...residuals, ...parts]) t.dispose();
      throw err;
    }
  }

  /** Σ_s codebook_s[indices[:, s]] (normalized codes for cosine codebooks), without the tape: decodes stored indices. */
  indicesToCodes(indices: Tensor): Tensor {
    const op = 'ResidualVQ.indicesToCodes';
    checkDType(indices, op, 'indices', 'int32');
    if (indices.rank !== 2 || indices.shape[1] !== this.numStages) throw new Error(`${op}: indices must have shape [N, ${this.numStages}] (one column per stage), got [${indices.shape}]`);
    const [N, S] = indices.shape;
    const iv = rawI32(indices);
    for (let i = 0; i < iv.length; i++) {
      if (!(iv[i] >= 0 && iv[i] < this.numCodes)) throw new Error(`${op}: indices[${Math.floor(i / S)}, ${i % S}] = ${iv[i]} is outside [0, ${this.numCodes})`);
    }
    return noGrad(() =>
      disposeOnThrow(() => {
        let acc: Tensor | null = null;
        for (let s = 0; s < S; s++) {
          const column = empty([N], 'int32');
          const cv = rawI32(column);
          const all = rawI32(indices);
          for (let n = 0; n < N; n++) cv[n] = all[n * S + s];
          const stage = this.stages[s];
          const book = stage.cosine ? l2Normalize(stage.codebook) : stage.codebook;
          const codes = gather(book, column);
          column.dispose();
          if (book !== stage.codebook) book.dispose();
          if (acc === null) acc = codes;
          else {
            const next = add(acc, codes);
            acc.dispose();
            codes.dispose();
            acc = next;
          }
        }
        return acc!;
      }),
    );
  }

  /** Every stage's distances: numStages times a VectorQuantizer's. */
  summaryMacs(input: readonly number[]): Macs {
    return { binary: 0, binaryWeights: 0, int8: 0, float: (input.length === 0 ? 1 : input[0]) * this.numStages * this.numCodes * this.dim };
  }

  inputWidth(): number {
    return this.dim;
  }

  #stackIndices(columns: Tensor[]): Tensor {
    const N = columns[0].size;
    const S = columns.length;
    const out = empty([N, S], 'int32');
    const ov = rawI32(out);
    columns.forEach((c, s) => {
      const cv = rawI32(c);
      for (let n = 0; n < N; n++) ov[n * S + s] = cv[n];
    });
    return out;
  }
}

/** Whether `part` is `out` or lies on its graph (a partial sum of that total). */
function isPartOf(part: Tensor, out: Tensor): boolean {
  const stack = [out];
  const seen = new Set<Tensor>();
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (t === part) return true;
    if (seen.has(t)) continue;
    seen.add(t);
    for (const i of t.node?.inputs ?? []) stack.push(i);
  }
  return false;
}
