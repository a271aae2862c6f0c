import { backward, noGrad } from '../autograd/tape.js';
import { reshape, slice, stack } from '../ops/shape.js';
import { sum } from '../ops/reduce.js';
import { gumbelSoftmax } from '../ste/choice.js';
import { categorical, gumbelRao, reinmax } from '../ste/stochastic.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { tensor } from '../tensor/creation.js';
import { readOptions } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { reinforce } from './reinforce.js';

// The gradient-diagnostics harness: the exact gradient of E_{z ~ p_θ}[f(z)]
// by enumerating every latent configuration, and the bias, spread and
// direction of each estimator's samples against it (the analysis of the
// ReinMax paper, Liu et al. 2023, §6).

/** Largest latent space the harness enumerates (C^L), as in the ReinMax paper's analysis. */
export const MAX_CONFIGURATIONS = 16384;

export type EstimatorName = 'st' | 'st-gumbel' | 'gumbel-softmax' | 'gumbel-rao' | 'reinmax' | 'reinforce';

export interface EstimatorSpec {
  name: EstimatorName;
  /** Temperature for st, st-gumbel, gumbel-softmax, gumbel-rao and reinmax (default 1). */
  tau?: number;
  /** reinforce: loss samples K per estimate (default 2); gumbel-rao: conditional noises K (default 8). */
  samples?: number;
  /** reinforce: 'loo' (default) or 'none'. */
  baseline?: 'loo' | 'none';
  /** Name in the report (default: the name, with the baseline for reinforce, e.g. 'reinforce-loo'). */
  label?: string;
}

/** A name, 'reinforce-loo' / 'reinforce-none' (K = 2), or a spec. */
export type EstimatorChoice = EstimatorName | 'reinforce-loo' | 'reinforce-none' | EstimatorSpec;

export interface ExactGradientOptions {
  /** f takes a batch of samples [M, L, C] and returns [M] values (much faster than one call per sample). */
  batched?: boolean;
}

export interface CompareOptions extends ExactGradientOptions {
  /** Estimators to measure (at least one). */
  estimators: EstimatorChoice[];
  /** Independent gradient estimates N per estimator (integer in [2, 2^20], default 1000). */
  samples?: number;
  /** Seed of every sample the harness draws (default 0); the default generator is not touched. */
  seed?: number;
  /** Also return every estimate (EstimatorReport.estimates), e.g. to pool several inputs into one report. */
  keepEstimates?: boolean;
  /**
   * Measure against a sampled reference instead of the enumeration (required past 16384
   * configurations): the mean of this many local-expectation gradients (integer in [2, 65536]),
   * see CompareResult.reference.
   */
  referenceSamples?: number;
}

export interface ExactGradient {
  /** E[f(z)] in float64. */
  value: number;
  /** ∇_θ E[f(z)], flat row-major [L·C], float64. */
  gradient: Float64Array;
  /** C^L, the configurations enumerated. */
  configurations: number;
}

export interface EstimatorReport {
  label: string;
  name: EstimatorName;
  /** Gradient estimates N. */
  samples: number;
  /** Evaluations of f spent (N, or N·K for reinforce). */
  evaluations: number;
  /** ‖mean(ĝ) − g‖ / ‖g‖. */
  bias: number;
  /** sqrt(Σ_n ‖ĝ_n − mean(ĝ)‖² / (N − 1)) / ‖g‖: the spread of one estimate, relative to the gradient. */
  std: number;
  /** Mean over the N estimates of cos(ĝ_n, g) (0 for an estimate of zero length). */
  cosine: number;
  /** cos(mean(ĝ), g). */
  cosineOfMean: number;
  /** mean(ĝ), flat [L·C]. */
  mean: Float64Array;
  /** With keepEstimates: the N estimates, flat [N, L·C]; otherwise null. */
  estimates: Float64Array | null;
}

export interface CompareResult extends ExactGradient {
  /**
   * 'exact': g by enumeration. 'sampled': g is the mean of referenceSamples local-expectation
   * gradients (Titsias & Lázaro-Gredilla 2015: for a sample z, each latent's C values are summed
   * exactly with the others held at z; unbiased, L·C evaluations of f per sample), and `value` the
   * Monte-Carlo mean of f.
   */
  reference: 'exact' | 'sampled';
  /**
   * The reference's own relative standard error (0 for 'exact'): a bias below about this is
   * not resolved.
   */
  referenceError: number;
  /** ‖g‖; the relative numbers are NaN when it is 0. */
  gradientNorm: number;
  estimators: EstimatorReport[];
}

type Batched = (z: Tensor) => Tensor;

function checkLogits(logits: unknown, op: string, enumerate = true): [number, number] {
  checkFloat(logits as Tensor, op, 'logits');
  const t = logits as Tensor;
  if (t.rank !== 2 || t.shape[0] === 0 || t.shape[1] === 0) throw new Error(`${op}: logits must be float32 [L, C] (L latents of C categories, both ≥ 1), got shape [${t.shape}]`);
  const [L, C] = t.shape;
  const configurations = C ** L;
  if (enumerate && configurations > MAX_CONFIGURATIONS) {
    const hint = op === 'estimators.compare' ? '; pass referenceSamples for a sampled reference' : '';
    throw new Error(`${op}: the latent space has C^L = ${C}^${L} = ${configurations} configurations; exact enumeration is limited to ${MAX_CONFIGURATIONS}${hint}`);
  }
  const v = t.dataSync();
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new Error(`${op}: logits[${i}] = ${v[i]}; the harness needs finite logits`);
  return [L, C];
}

/** f as a function of a batch [M, L, C] returning [M], checking what it returns. */
function batchedF(f: unknown, batched: boolean, L: number, C: number, op: string): Batched {
  if (typeof f !== 'function') throw new Error(`${op}: f must be a function of the one-hot sample, got ${describe(f)}`);
  const fn = f as (z: Tensor) => Tensor;
  const checked = (out: unknown, want: number[], what: string): Tensor => {
    if (!(out instanceof Tensor) || out.dtype !== 'float32') throw new Error(`${op}: f must return a float32 Tensor, got ${describe(out)}`);
    const ok = want.length === 0 ? out.size === 1 : out.rank === 1 && out.shape[0] === want[0];
    if (!ok) throw new Error(`${op}: f must return ${what}, got shape [${out.shape}]`);
    return out;
  };
  if (batched) return (z) => checked(fn(z), [z.shape[0]], `one value per sample, shape [${z.shape[0]}] (batched: true)`);
  return (z) => {
    const rows: Tensor[] = [];
    for (let i = 0; i < z.shape[0]; i++) {
      const zi = reshape(slice(z, [i, 0, 0], [1, L, C]), [L, C]);
      rows.push(reshape(checked(fn(zi), [], 'a scalar for a sample [L, C] (or pass batched: true)'), []));
    }
    return stack(rows);
  };
}

/** Float64 softmax of each row of θ. */
function softmaxRows(theta: Float32Array, L: number, C: number): Float64Array {
  const p = new Float64Array(L * C);
  for (let l = 0; l < L; l++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, theta[l * C + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += p[l * C + c] = Math.exp(theta[l * C + c] - m);
    for (let c = 0; c < C; c++) p[l * C + c] /= s;
  }
  return p;
}

function exact(logits: Tensor, fb: Batched, L: number, C: number): ExactGradient {
  const M = C ** L;
  const pi = softmaxRows(logits.dataSync() as Float32Array, L, C);
  const values = new Float64Array(M);
  const chunk = Math.max(1, Math.min(M, Math.floor(2 ** 20 / (L * C))));
  for (let start = 0; start < M; start += chunk) {
    const n = Math.min(chunk, M - start);
    const z = new Float32Array(n * L * C);
    for (let i = 0; i < n; i++) {
      let m = start + i;
      // Configuration m: latent l takes digit l of m in base C (latent 0 most significant).
      for (let l = L - 1; l >= 0; l--) {
        z[(i * L + l) * C + (m % C)] = 1;
        m = Math.floor(m / C);
      }
    }
    const out = tidy(() => noGrad(() => Float64Array.from(fb(tensor(z, [n, L, C])).dataSync())));
    values.set(out, start);
  }
  let value = 0;
  const gradient = new Float64Array(L * C);
  const digits = new Int32Array(L);
  for (let m = 0; m < M; m++) {
    let r = m;
    let p = 1;
    for (let l = L - 1; l >= 0; l--) {
      digits[l] = r % C;
      r = Math.floor(r / C);
      p *= pi[l * C + digits[l]];
    }
    const w = p * values[m];
    value += w;
    // ∇_θ p(z) = p(z) · (onehot(z_l) − π_l) for each latent l.
    for (let l = 0; l < L; l++) {
      for (let c = 0; c < C; c++) gradient[l * C + c] -= w * pi[l * C + c];
      gradient[l * C + digits[l]] += w;
    }
  }
  if (!Number.isFinite(value) || gradient.some((g) => !Number.isFinite(g))) {
    throw new Error('estimators.compare: f returned non-finite values; the exact expectation is undefined');
  }
  return { value, gradient, configurations: M };
}

/**
 * The local-expectation estimate of ∇_θ E[f(z)], averaged over M samples z ~ p_θ: for each sample
 * and latent l, Σ_c π_lc f(z with z_l = c) (e_c − π_l). Returns the mean, the mean of f(z) and the
 * relative standard error of the mean.
 */
function sampledReference(logits: Tensor, fb: Batched, L: number, C: number, M: number, seed: number): { value: number; gradient: Float64Array; error: number } {
  const D = L * C;
  const pi = softmaxRows(logits.dataSync() as Float32Array, L, C);
  const theta = logits.dataSync();
  const samples = tidy(() => noGrad(() => {
    const tiled = tensor(new Float32Array(M * D).map((_, i) => theta[i % D]), [M, L, C]);
    return Int32Array.from(argmaxRows(categorical(tiled, { seed }).dataSync(), M * L, C));
  }));
  const sum = new Float64Array(D);
  const sumSq = { v: 0 };
  let value = 0;
  const rowsPerSample = L * C;
  const perChunk = Math.max(1, Math.floor(2 ** 20 / (D * rowsPerSample)));
  for (let m0 = 0; m0 < M; m0 += perChunk) {
    const n = Math.min(perChunk, M - m0);
    const z = new Float32Array(n * rowsPerSample * D);
    for (let i = 0; i < n; i++) {
      for (let l = 0; l < L; l++) {
        for (let c = 0; c < C; c++) {
          const row = (i * rowsPerSample + l * C + c) * D;
          for (let k = 0; k < L; k++) z[row + k * C + (k === l ? c : samples[(m0 + i) * L + k])] = 1;
        }
      }
    }
    const fv = tidy(() => noGrad(() => Float64Array.from(fb(tensor(z, [n * rowsPerSample, L, C])).dataSync())));
    for (let i = 0; i < n; i++) {
      const r = new Float64Array(D);
      for (let l = 0; l < L; l++) {
        const at = (c: number) => fv[i * rowsPerSample + l * C + c];
        if (l === 0) value += at(samples[(m0 + i) * L]);
        for (let c = 0; c < C; c++) {
          const w = pi[l * C + c] * at(c);
          for (let k = 0; k < C; k++) r[l * C + k] -= w * pi[l * C + k];
          r[l * C + c] += w;
        }
      }
      let n2 = 0;
      for (let d = 0; d < D; d++) {
        sum[d] += r[d];
        n2 += r[d] * r[d];
      }
      sumSq.v += n2;
    }
  }
  const gradient = sum.map((v) => v / M);
  const meanNorm2 = gradient.reduce((a, v) => a + v * v, 0);
  if (!Number.isFinite(value) || !Number.isFinite(sumSq.v)) throw new Error('estimators.compare: f returned non-finite values; the reference is undefined');
  const spread = Math.max(0, sumSq.v - M * meanNorm2) / (M - 1);
  return { value: value / M, gradient, error: meanNorm2 > 0 ? Math.sqrt(spread / M / meanNorm2) : NaN };
}

/** The index of the 1 in each one-hot row. */
function argmaxRows(oneHot: ArrayLike<number>, rows: number, C: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) if (oneHot[r * C + c] === 1) out[r] = c;
  return out;
}

/**
 * The exact value and gradient of E_{z ~ p_θ}[f(z)] w.r.t. the logits θ [L, C], where the L latents
 * are independent categoricals softmax(θ_l), by enumerating all C^L ≤ 16384 one-hot configurations
 * z [L, C]: ∇ = Σ_z p(z) f(z) ∇ log p(z). Sums in float64.
 */
export function exactGradient(logits: Tensor, f: (z: Tensor) => Tensor, options: ExactGradientOptions | null = {}): ExactGradient {
  const op = 'estimators.exactGradient';
  const [L, C] = checkLogits(logits, op);
  const o = readOptions<ExactGradientOptions>(options, op);
  return exact(logits, batchedF(f, o.batched ?? false, L, C, op), L, C);
}

function readSpec(choice: unknown, i: number, op: string): Required<Omit<EstimatorSpec, 'label'>> & { label: string } {
  if (typeof choice === 'string') {
    if (choice === 'reinforce-loo' || choice === 'reinforce-none') return { name: 'reinforce', tau: 1, samples: 2, baseline: choice.slice(10) as 'loo' | 'none', label: choice };
    return readSpec({ name: choice }, i, op);
  }
  const o = readOptions<EstimatorSpec>(choice, op, `estimators[${i}]`);
  const names: EstimatorName[] = ['st', 'st-gumbel', 'gumbel-softmax', 'gumbel-rao', 'reinmax', 'reinforce'];
  if (!names.includes(o.name as EstimatorName)) {
    throw new Error(`${op}: estimators[${i}] must be one of ${names.map((n) => `'${n}'`).join(', ')}, 'reinforce-loo', 'reinforce-none' or a spec { name, tau, samples, baseline }, got ${describe(choice)}`);
  }
  const tau = checkNumber(o.tau ?? 1, op, `estimators[${i}].tau`, { positive: true, f32: true, min: 1 / 3.4e38 });
  const samples = checkNumber(o.samples ?? (o.name === 'gumbel-rao' ? 8 : 2), op, `estimators[${i}].samples`, { integer: true, min: 1, max: o.name === 'gumbel-rao' ? 1024 : 4096 });
  const baseline = o.baseline ?? 'loo';
  if (baseline !== 'loo' && baseline !== 'none') throw new Error(`${op}: estimators[${i}].baseline must be 'loo' or 'none', got ${describe(baseline)}`);
  if (o.name === 'reinforce' && baseline === 'loo' && samples < 2) throw new Error(`${op}: estimators[${i}]: baseline 'loo' needs samples >= 2, got ${samples}`);
  if (o.label !== undefined && typeof o.label !== 'string') throw new Error(`${op}: estimators[${i}].label must be a string, got ${describe(o.label)}`);
  const label = o.label ?? (o.name === 'reinforce' ? `reinforce-${baseline}` : o.name!);
  return { name: o.name as EstimatorName, tau, samples, baseline, label };
}

/**
 * backward(root) that changes no .grad but `leaf`'s: the leaves f reaches besides `leaf` (model
 * parameters) get their gradients back as they were, so measuring does not disturb training.
 */
function backwardInto(root: Tensor, leaf: Tensor): void {
  const others = new Map<Tensor, Tensor | null>();
  const seen = new Set<Tensor>([root]);
  const stack = [root];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (t.node === null) {
      if (t !== leaf && t.requiresGrad) others.set(t, t.grad);
      continue;
    }
    for (const input of t.node.inputs) {
      if (!seen.has(input)) {
        seen.add(input);
        stack.push(input);
      }
    }
  }
  for (const t of others.keys()) t.grad = null;
  try {
    backward(root);
  } finally {
    for (const [t, g] of others) {
      if (t.grad !== g) t.grad?.dispose();
      t.grad = g;
    }
  }
}

/** A seed for (base, estimator, chunk): splitmix32's finalizer over a golden-ratio walk. */
function mixSeed(base: number, a: number, b: number): number {
  let z = (base + Math.imul(a + 1, 0x9e3779b9) + Math.imul(b + 1, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Measures gradient estimators against the exact gradient. For logits θ [L, C] (C^L ≤ 16384) and a
 * loss f of the one-hot sample z [L, C] returning a scalar (or, with batched: true, f of [M, L, C]
 * returning [M]), computes g = ∇_θ E_{z ~ softmax(θ)}[f(z)] by enumeration, then N independent
 * estimates ĝ_n per estimator (the ST family: the gradient of f(op(θ)) for one sample; reinforce:
 * one K-sample surrogate), and reports relative bias, relative std and cosine similarity to g.
 * Bias shrinks like 1/√N only for an unbiased estimator; for a biased one it levels off at its bias.
 * f may use model parameters: their .grad is left as it was (only the estimates are kept).
 */
export function compare(logits: Tensor, f: (z: Tensor) => Tensor, options: CompareOptions): CompareResult {
  const op = 'estimators.compare';
  const o = readOptions<CompareOptions>(options, op);
  const sampled = o.referenceSamples !== undefined;
  const M = sampled ? checkNumber(o.referenceSamples, op, 'referenceSamples', { integer: true, min: 2, max: 65536 }) : 0;
  const [L, C] = checkLogits(logits, op, !sampled);
  if (sampled && M * L * C * L * C > 2 ** 31) throw new Error(`${op}: referenceSamples = ${M} with ${L * C} logits would evaluate f on ${M * L * C} samples of ${L * C} entries; use fewer reference samples`);
  if (!Array.isArray(o.estimators) || o.estimators.length === 0) throw new Error(`${op}: options.estimators must be a non-empty array of estimator names or specs, got ${describe(o.estimators)}`);
  const specs = o.estimators.map((e, i) => readSpec(e, i, op));
  const N = checkNumber(o.samples ?? 1000, op, 'samples', { integer: true, min: 2, max: 2 ** 20 });
  const base = checkNumber(o.seed ?? 0, op, 'seed', { integer: true, min: 0, max: 2 ** 32 - 1 });
  const keepEstimates = o.keepEstimates ?? false;
  if (typeof keepEstimates !== 'boolean') throw new Error(`${op}: keepEstimates must be true or false, got ${describe(keepEstimates)}`);
  if (keepEstimates && N * L * C > 2 ** 26) throw new Error(`${op}: keepEstimates with ${N} estimates of ${L * C} entries would keep ${N * L * C} numbers (at most 2^26); use fewer samples`);
  const fb = batchedF(f, o.batched ?? false, L, C, op);
  let ex: ExactGradient;
  let referenceError = 0;
  if (sampled) {
    const r = sampledReference(logits, fb, L, C, M, mixSeed(base, 2 ** 16, 0));
    ex = { value: r.value, gradient: r.gradient, configurations: C ** L };
    referenceError = r.error;
  } else {
    ex = exact(logits, fb, L, C);
  }
  const g = ex.gradient;
  const D = L * C;
  const gNorm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
  const theta = logits.dataSync().slice();
  const reports = specs.map((spec, e): EstimatorReport => {
    const perEval = spec.name === 'reinforce' ? spec.samples : 1;
    const chunk = Math.max(1, Math.min(N, Math.floor(2 ** 18 / (D * (spec.name === 'gumbel-rao' ? spec.samples : perEval)))));
    // Streaming sums (one pass, no N × D buffer): Σ ĝ_n, Σ ‖ĝ_n‖², Σ cos(ĝ_n, g).
    const sumG = new Float64Array(D);
    const kept = keepEstimates ? new Float64Array(N * D) : null;
    let sumNorm2 = 0;
    let cosSum = 0;
    for (let start = 0, c = 0; start < N; start += chunk, c++) {
      const n = Math.min(chunk, N - start);
      const seed = mixSeed(base, e, c);
      const rows = tidy(() => {
        const data = new Float32Array(n * D);
        for (let i = 0; i < n; i++) data.set(theta, i * D);
        const leaf = tensor(data, [n, L, C], { requiresGrad: true });
        try {
          if (spec.name === 'reinforce') {
            // The surrogate averages over the n rows: scale back to one estimate per row.
            backwardInto(reinforce(leaf, fb, { samples: spec.samples, baseline: spec.baseline, seed }), leaf);
            return Float64Array.from(leaf.grad!.dataSync(), (v) => v * n);
          }
          const z = spec.name === 'st' ? categorical(leaf, { tau: spec.tau, seed })
            : spec.name === 'reinmax' ? reinmax(leaf, { tau: spec.tau, seed })
              : spec.name === 'gumbel-rao' ? gumbelRao(leaf, { tau: spec.tau, samples: spec.samples, seed })
              : gumbelSoftmax(leaf, { tau: spec.tau, seed, hard: spec.name === 'st-gumbel' });
          backwardInto(sum(fb(z)), leaf);
          return Float64Array.from(leaf.grad!.dataSync());
        } finally {
          leaf.grad?.dispose();
          leaf.dispose();
        }
      });
      kept?.set(rows, start * D);
      for (let i = 0; i < n; i++) {
        let dot = 0;
        let n2 = 0;
        for (let d = 0; d < D; d++) {
          const v = rows[i * D + d];
          sumG[d] += v;
          dot += v * g[d];
          n2 += v * v;
        }
        sumNorm2 += n2;
        cosSum += n2 > 0 && gNorm > 0 ? dot / (Math.sqrt(n2) * gNorm) : 0;
      }
    }
    const mean = sumG.map((s) => s / N);
    let cosMeanDot = 0;
    let meanNorm2 = 0;
    let biasSq = 0;
    for (let d = 0; d < D; d++) {
      biasSq += (mean[d] - g[d]) ** 2;
      cosMeanDot += mean[d] * g[d];
      meanNorm2 += mean[d] ** 2;
    }
    // Σ ‖ĝ_n − mean‖² = Σ ‖ĝ_n‖² − N‖mean‖² (float64; clamped at 0 against round-off).
    const spread = Math.max(0, sumNorm2 - N * meanNorm2);
    return {
      label: spec.label, name: spec.name, samples: N, evaluations: N * perEval,
      bias: Math.sqrt(biasSq) / gNorm,
      std: Math.sqrt(spread / (N - 1)) / gNorm,
      cosine: gNorm > 0 ? cosSum / N : NaN,
      cosineOfMean: meanNorm2 > 0 && gNorm > 0 ? cosMeanDot / (Math.sqrt(meanNorm2) * gNorm) : gNorm > 0 ? 0 : NaN,
      mean,
      estimates: kept,
    };
  });
  return { ...ex, reference: sampled ? 'sampled' : 'exact', referenceError, gradientNorm: gNorm, estimators: reports };
}
