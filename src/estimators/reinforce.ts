import { composite, noGrad } from '../autograd/tape.js';
import { stopGradient } from '../autograd/custom.js';
import { add, mul, sub } from '../ops/elementwise.js';
import { logSoftmax } from '../ops/losses.js';
import { sum } from '../ops/reduce.js';
import { broadcastTo, expandDims, reshape, slice } from '../ops/shape.js';
import { sampleOneHot } from '../ste/stochastic.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import { randomDraw, Stream } from '../tensor/random.js';
import { tensor } from '../tensor/creation.js';
import { Tensor } from '../tensor/tensor.js';

// The score-function (REINFORCE, Williams 1992) estimator. Unlike the
// straight-through ops in `ste`, it cannot be a function of the logits alone:
// it needs the loss of each sample. So it is a surrogate-loss builder,
// reinforce(logits, f) -> scalar, rather than a sample with a surrogate gradient.

/** A moving-average baseline, state shared across calls: `value` is the running mean of f (null before the first call). */
export interface EmaBaseline {
  readonly kind: 'ema';
  /** Weight of the old value in each update, in [0, 1). */
  readonly decay: number;
  value: number | null;
}

/** A moving-average baseline for {@link reinforce}: value ← decay·value + (1 − decay)·mean(f) after each call. */
export function emaBaseline(decay = 0.9): EmaBaseline {
  const d = checkNumber(decay, 'estimators.emaBaseline', 'decay', { min: 0 });
  if (!(d < 1)) throw new Error(`estimators.emaBaseline: decay must be < 1 (the weight of the old value), got ${d}`);
  return { kind: 'ema', decay: d, value: null };
}

export type Baseline = 'none' | 'loo' | EmaBaseline;

export interface ReinforceOptions {
  /** Samples K per call (integer in [1, 4096], default 2). */
  samples?: number;
  /**
   * 'loo' (default; needs K ≥ 2): each sample's baseline is the mean of f over the other K − 1
   * samples, so it stays unbiased. 'none': no baseline. An {@link emaBaseline} object: the moving
   * average of f over earlier calls (unbiased too: it does not depend on this call's samples).
   */
  baseline?: Baseline;
  /** This call's own seed (see ste.categorical); the samples come from the Gumbel stream. */
  seed?: number;
}

const MAX_SAMPLES = 4096;

/**
 * REINFORCE / score-function estimator for f(z) with z ~ Categorical(softmax(logits)) along the last
 * axis. Draws K one-hot samples z_k of logits' shape and calls f(z_k) (z_k is a constant: no gradient
 * flows through the sample). f returns a scalar, or when logits has rank ≥ 2 one value per row of
 * the first axis, shape [logits.shape[0]] (then each row is its own latent, with its own baseline).
 *
 * Returns a scalar surrogate loss: its value is the Monte-Carlo mean of f (over the K samples and
 * the rows); its gradient is, to the logits, the score-function estimate
 * mean_k (f_k − b_k)·∇ log p(z_k), and to everything f depends on differentiably (decoder
 * weights, the logits themselves, e.g. through a KL term), the pathwise gradient of the mean of f.
 *
 * Unbiased, but with high variance that grows with the number of latents; baselines reduce it.
 * It costs K evaluations of f per call.
 */
export function reinforce(logits: Tensor, f: (z: Tensor) => Tensor, options: ReinforceOptions | null = {}): Tensor {
  const op = 'estimators.reinforce';
  checkFloat(logits, op, 'logits');
  if (logits.rank === 0 || logits.shape[logits.rank - 1] === 0) {
    throw new Error(`${op}: logits must have a non-empty last axis (the categories), got shape [${logits.shape}]`);
  }
  if (logits.size === 0) throw new Error(`${op}: logits (shape [${logits.shape}]) has no elements; the mean of f over no latents is undefined`);
  if (typeof f !== 'function') throw new Error(`${op}: f must be a function of the one-hot sample, got ${describe(f)}`);
  const o = readOptions<ReinforceOptions>(options, op);
  const K = checkNumber(o.samples ?? 2, op, 'samples', { integer: true, min: 1, max: MAX_SAMPLES });
  const baseline = o.baseline ?? 'loo';
  const isEma = typeof baseline === 'object' && baseline !== null && (baseline as EmaBaseline).kind === 'ema';
  if (baseline !== 'none' && baseline !== 'loo' && !isEma) {
    throw new Error(`${op}: baseline must be 'none', 'loo' or estimators.emaBaseline(decay), got ${describe(baseline)}`);
  }
  if (isEma) {
    const b = baseline as EmaBaseline;
    if (typeof b.decay !== 'number' || !(b.decay >= 0 && b.decay < 1) || !(b.value === null || Number.isFinite(b.value))) {
      throw new Error(`${op}: baseline must come from estimators.emaBaseline(decay) (decay in [0, 1), value null or finite), got ${describe(baseline)}`);
    }
  }
  if (baseline === 'loo' && K < 2) throw new Error(`${op}: baseline 'loo' needs samples >= 2 (each sample's baseline is the mean over the others), got samples = ${K}`);
  const elements = logits.size * K;
  if (elements > 2 ** 26) throw new Error(`${op}: ${K} samples of logits [${logits.shape}] would make ${elements} sample elements (at most 2^26); use fewer samples`);
  const draw = randomDraw(o.seed, op, Stream.gumbel);
  const v = logits.dataSync();
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== v[i]) throw new Error(`${op}: logits[${i}] is NaN; a categorical needs finite or ±Infinity logits`);
  }
  const shape = [...logits.shape];
  let meanF = 0;
  const loss = composite(() => {
    const all = noGrad(() => {
      const e = expandDims(logits, 0);
      const tiled = broadcastTo(e, [K, ...shape]);
      try {
        return sampleOneHot(tiled, draw);
      } finally {
        e.dispose();
        tiled.dispose();
      }
    });
    draw.commit();
    const logq = logSoftmax(logits);
    const values: Tensor[] = [];
    const logps: Tensor[] = [];
    let rows = 0;
    for (let k = 0; k < K; k++) {
      const part = slice(all, [k, ...shape.map(() => 0)], [1, ...shape]);
      const z = reshape(part, shape);
      const fk = f(z);
      if (!(fk instanceof Tensor) || fk.dtype !== 'float32') throw new Error(`${op}: f must return a float32 Tensor, got ${describe(fk)}`);
      const perRow = fk.rank === 1 && logits.rank >= 2 && fk.shape[0] === shape[0];
      if (fk.size !== 1 && !perRow) {
        throw new Error(`${op}: f must return a scalar or one value per row of logits (shape [${shape[0]}]), got shape [${fk.shape}]`);
      }
      if (k === 0) rows = perRow ? shape[0] : 1;
      else if ((perRow ? shape[0] : 1) !== rows || (fk.size === 1 && fk.rank !== values[0].rank)) {
        throw new Error(`${op}: f must return the same shape for every sample, got [${values[0].shape}] then [${fk.shape}]`);
      }
      const joint = mul(z, logq);
      logps.push(perRow ? sum(joint, { axis: shape.map((_, i) => i).slice(1) }) : reshape(sum(joint), [...fk.shape]));
      values.push(fk);
    }
    const fv = values.map((t) => Float64Array.from(t.dataSync()));
    for (const row of fv) {
      for (let i = 0; i < row.length; i++) {
        if (!Number.isFinite(row[i])) throw new Error(`${op}: f returned a non-finite value (${row[i]}); the score-function weight would be undefined`);
      }
    }
    const total = new Float64Array(rows);
    for (const row of fv) for (let b = 0; b < rows; b++) total[b] += row[b];
    meanF = total.reduce((s, x) => s + x, 0) / (K * rows);
    const emaValue = isEma ? ((baseline as EmaBaseline).value ?? 0) : 0;
    let acc: Tensor | null = null;
    for (let k = 0; k < K; k++) {
      const adv = new Float32Array(rows);
      for (let b = 0; b < rows; b++) {
        const base = baseline === 'loo' ? (total[b] - fv[k][b]) / (K - 1) : emaValue;
        adv[b] = fv[k][b] - base;
      }
      const advT = tensor(adv, [...values[k].shape] as number[]);
      const score = sub(logps[k], stopGradient(logps[k]));
      const term = sum(add(values[k], mul(advT, score)));
      acc = acc === null ? term : add(acc, term);
    }
    return mul(acc!, 1 / (K * rows));
  });
  if (isEma) {
    const b = baseline as EmaBaseline;
    b.value = b.value === null ? meanF : b.decay * b.value + (1 - b.decay) * meanF;
  }
  return loss;
}
