import { composite, noGrad, record } from '../autograd/tape.js';
import { rngGumbelF32, rngUniformF32 } from '../kernels/rng.js';
import { add, affine, exp, log, lt, maximum, mul, neg, sigmoid, sub } from '../ops/elementwise.js';
import { oneHot } from '../ops/indexing.js';
import { logsumexp, softmax } from '../ops/losses.js';
import { argmax, mean, sum } from '../ops/reduce.js';
import { broadcastTo, cast, expandDims } from '../ops/shape.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import { randomDraw, Stream, type RandomDraw } from '../tensor/random.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { identityGrad } from './straight.js';

// Stochastic straight-through estimators for categorical and Bernoulli latents.
// Each call draws a sample (one-hot rows, or {0, 1}) in the forward pass and
// gives it the estimator's surrogate gradient in the backward pass. They share
// one call shape, `op(logits, { tau, seed })`, and the Gumbel stream of
// gumbelSoftmax: with the same seed, categorical, reinmax and gumbelRao draw
// the same sample (gumbelSoftmax({ hard: true }) too, unless its float32
// softmax rounds two entries to the same value).

export interface StochasticOptions {
  /** Temperature of the surrogate softmax (> 0, default 1). */
  tau?: number;
  /**
   * This call's own seed (the same bits in every runtime; the same seed gives the same sample every
   * call). Leave it out in a training loop (call `seed(n)` once) so each step draws fresh samples.
   */
  seed?: number;
}

function checkLogits(logits: Tensor, op: string): void {
  checkFloat(logits, op, 'logits');
  if (logits.rank === 0 || logits.shape[logits.rank - 1] === 0) {
    throw new Error(`${op}: logits must have a non-empty last axis (the categories), got shape [${logits.shape}]`);
  }
}

function readTau(o: Partial<StochasticOptions>, op: string): number {
  // 1 / tau is applied in float32: tau must keep it finite and non-zero.
  return checkNumber(o.tau ?? 1, op, 'tau', { positive: true, f32: true, min: 1 / 3.4e38 });
}

/** One-hot rows D ~ Categorical(softmax(logits)) by the Gumbel-max trick, argmax(logits + g), no tape. */
export function sampleOneHot(logits: Tensor, draw: RandomDraw): Tensor {
  const c = logits.shape[logits.rank - 1];
  return noGrad(() => {
    const noise = empty(logits.shape, 'float32');
    rngGumbelF32(noise, draw);
    const perturbed = add(logits, noise);
    noise.dispose();
    const idx = argmax(perturbed, { axis: -1 });
    perturbed.dispose();
    try {
      return oneHot(idx, c);
    } finally {
      idx.dispose();
    }
  });
}

function rejectNaN(logits: Tensor, op: string): void {
  const v = logits.dataSync();
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== v[i]) throw new Error(`${op}: logits[${i}] is NaN; a categorical needs finite or ±Infinity logits`);
  }
}

/**
 * Straight-through categorical sample (Bengio et al. 2013; the "ST" of the ReinMax paper): the forward
 * value is a one-hot sample D ~ Categorical(softmax(logits)) along the last axis, the backward pass is
 * the gradient of softmax(logits / tau). Biased: a first-order approximation of the true gradient
 * (Liu et al. 2023), exact only for a loss linear in the sample; low variance; one evaluation of the loss.
 */
export function categorical(logits: Tensor, options: StochasticOptions | null = {}): Tensor {
  const op = 'ste.categorical';
  checkLogits(logits, op);
  const o = readOptions<StochasticOptions>(options, op);
  const tau = readTau(o, op);
  const draw = randomDraw(o.seed, op, Stream.gumbel);
  rejectNaN(logits, op);
  return composite(() => {
    const hard = sampleOneHot(logits, draw);
    draw.commit();
    const soft = softmax(tau === 1 ? logits : affine(logits, 1 / tau, 0));
    return record(hard, 'categorical', [soft], (dy) => [identityGrad(dy)]);
  });
}

/** J(p)·dy for the softmax Jacobian at p, row-wise over the last axis: p ⊙ (dy − ⟨p, dy⟩). */
function softmaxJvp(p: Tensor, dy: Tensor): Tensor {
  const pdy = mul(p, dy);
  const dot = sum(pdy, { axis: -1, keepDims: true });
  const centered = sub(dy, dot);
  const out = mul(p, centered);
  for (const t of [pdy, dot, centered]) t.dispose();
  return out;
}

/**
 * ReinMax (Liu et al., NeurIPS 2023): a second-order accurate straight-through estimator at the cost of
 * ST. Forward: a one-hot sample D ~ Categorical(softmax(logits)). Backward, with π0 = softmax(θ) and
 * π1 = (D + softmax(θ/τ)) / 2: the gradient of π2 = 2·softmax(stopGradient(ln π1 − θ) + θ) − π0/2,
 * i.e. dθ = 2·J(π1)·dy − ½·J(π0)·dy with J(p) = diag(p) − p pᵀ. Lower bias than ST (Heun's method
 * instead of Euler's), similar variance; the paper recommends tau ≥ 1.
 */
export function reinmax(logits: Tensor, options: StochasticOptions | null = {}): Tensor {
  const op = 'ste.reinmax';
  checkLogits(logits, op);
  const o = readOptions<StochasticOptions>(options, op);
  const tau = readTau(o, op);
  const draw = randomDraw(o.seed, op, Stream.gumbel);
  rejectNaN(logits, op);
  const hard = sampleOneHot(logits, draw);
  draw.commit();
  const saved = noGrad(() => {
    const pi0 = softmax(logits);
    const scaled = tau === 1 ? logits : affine(logits, 1 / tau, 0);
    const softTau = softmax(scaled);
    if (scaled !== logits) scaled.dispose();
    const both = add(hard, softTau);
    softTau.dispose();
    const pi1 = affine(both, 0.5, 0);
    both.dispose();
    return [pi0, pi1];
  });
  const [pi0, pi1] = saved;
  return record(hard, 'reinmax', [logits], (dy) => {
    const a = softmaxJvp(pi1, dy);
    const b = softmaxJvp(pi0, dy);
    const a2 = affine(a, 2, 0);
    const b2 = affine(b, 0.5, 0);
    const g = sub(a2, b2);
    for (const t of [a, b, a2, b2]) t.dispose();
    return [g];
  }, { saved });
}

export type BernoulliGrad = 'sigmoid' | 'identity';

export interface BernoulliOptions {
  /**
   * The surrogate gradient: 'sigmoid' (default; dy·σ'(x), the sigmoid-adjusted straight-through of Bengio
   * et al. 2013) or 'identity' (dy itself, Hinton's original straight-through).
   */
  grad?: BernoulliGrad;
  /** This call's own seed (see StochasticOptions.seed). */
  seed?: number;
}

/**
 * Binary stochastic neuron: the forward value is z ~ Bernoulli(sigmoid(logits)) in {0, 1}
 * (z = 1 where u < sigmoid(logits), u uniform in [0, 1)); the backward pass is straight-through,
 * through sigmoid(logits) ('sigmoid') or the identity. Biased, low variance.
 */
export function bernoulli(logits: Tensor, options: BernoulliOptions | null = {}): Tensor {
  const op = 'ste.bernoulli';
  checkFloat(logits, op, 'logits');
  const o = readOptions<BernoulliOptions>(options, op);
  const grad = o.grad ?? 'sigmoid';
  if (grad !== 'sigmoid' && grad !== 'identity') throw new Error(`${op}: grad must be 'sigmoid' or 'identity', got ${describe(grad)}`);
  const draw = randomDraw(o.seed, op, Stream.bernoulli);
  const v = logits.dataSync();
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== v[i]) throw new Error(`${op}: logits[${i}] is NaN; a Bernoulli needs finite or ±Infinity logits`);
  }
  return composite(() => {
    // With the identity surrogate, sigmoid only serves the sampling threshold: no tape.
    const p = grad === 'identity' ? noGrad(() => sigmoid(logits)) : sigmoid(logits);
    const hard = noGrad(() => {
      const u = empty(logits.shape, 'float32');
      rngUniformF32(u, draw, 0, 1);
      const mask = lt(u, p);
      u.dispose();
      const z = cast(mask, 'float32');
      mask.dispose();
      return z;
    });
    draw.commit();
    return record(hard, 'bernoulli', [grad === 'identity' ? logits : p], (dy) => [identityGrad(dy)]);
  });
}

export interface GumbelRaoOptions extends StochasticOptions {
  /** Conditional Gumbel samples K averaged in the backward pass (integer in [1, 1024], default 8). */
  samples?: number;
}

/**
 * Gumbel-Rao (Paulus et al., ICLR 2021): the forward value is the one-hot sample D of
 * ste.categorical (the same D for the same seed); the backward pass is the gradient of
 * mean_k softmax((logits + g_k) / tau) over K Gumbel noises g_k drawn conditionally on
 * argmax(logits + g_k) = D. It is the Rao-Blackwellization of ST-Gumbel: the same expected
 * gradient, lower variance (falling with K), at the cost of K softmaxes (not K evaluations of the loss).
 * Logits must be finite.
 */
export function gumbelRao(logits: Tensor, options: GumbelRaoOptions | null = {}): Tensor {
  const op = 'ste.gumbelRao';
  checkLogits(logits, op);
  const o = readOptions<GumbelRaoOptions>(options, op);
  const tau = readTau(o, op);
  const K = checkNumber(o.samples ?? 8, op, 'samples', { integer: true, min: 1, max: 1024 });
  if (logits.size * K > 2 ** 26) throw new Error(`${op}: ${K} samples of logits [${logits.shape}] would make ${logits.size * K} noise values (at most 2^26); use fewer samples`);
  const draw = randomDraw(o.seed, op, Stream.gumbel);
  const v = logits.dataSync();
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw new Error(`${op}: logits[${i}] = ${v[i]}; Gumbel-Rao needs finite logits`);
  }
  return composite(() => {
    const hard = sampleOneHot(logits, draw);
    const tiledShape = [K, ...logits.shape];
    // The conditional noise continues the stream after the sample's draws.
    const extra = { seed: draw.seed, stream: draw.stream, offset: draw.offset + logits.size };
    const noise = noGrad(() => conditionalGumbel(logits, hard, K, tiledShape, extra));
    draw.commit();
    const perturbed = add(logits, noise);
    const relaxed = softmax(tau === 1 ? perturbed : affine(perturbed, 1 / tau, 0));
    const surrogate = mean(relaxed, { axis: 0 });
    return record(hard, 'gumbelRao', [surrogate], (dy) => [identityGrad(dy)]);
  });
}

/**
 * K noises g [K, ...] with argmax(θ + g) = D, each distributed as Gumbel noise conditioned on that
 * event: with u = θ + g, the top class gets u_D = logsumexp(θ) + G (G ~ Gumbel(0, 1)), every other
 * class u_i = −log(exp(−θ_i − G_i) + exp(−u_D)), i.e. a Gumbel truncated below u_D.
 */
function conditionalGumbel(theta: Tensor, D: Tensor, K: number, shape: number[], at: { seed: number; stream: number; offset: number }): Tensor {
  const G = empty(shape, 'float32');
  rngGumbelF32(G, at);
  const th = broadcastTo(expandDims(theta, 0), shape);
  const d = broadcastTo(expandDims(D, 0), shape);
  const lse = logsumexp(th, { axis: -1, keepDims: true });
  const gTop = sum(mul(d, G), { axis: -1, keepDims: true });
  const uTop = add(lse, gTop);
  // −log(e^a + e^b) with a = −θ − G, b = −u_D, computed as −(m + log(e^(a−m) + e^(b−m))).
  const a = neg(add(th, G));
  const b = broadcastTo(neg(uTop), shape);
  const m = maximum(a, b);
  const rest = neg(add(m, log(add(exp(sub(a, m)), exp(sub(b, m))))));
  const u = add(mul(d, broadcastTo(uTop, shape)), mul(sub(1, d), rest));
  return sub(u, th);
}
