import { noGrad } from '../autograd/tape.js';
import { exp } from '../ops/elementwise.js';
import { checkNumber } from '../tensor/checks.js';
import { tensor } from '../tensor/creation.js';
import { readOptions } from '../tensor/options.js';

export interface TemperatureOptions {
  /** Starting temperature (> 0, default 1). */
  tau0?: number;
  /** Floor of the schedule (> 0, default 0.5, Jang et al.'s choice). */
  tauMin?: number;
  /** Annealing rate r per step (≥ 0, default 1e-4). */
  rate?: number;
}

/**
 * The exponential annealing schedule of Jang et al. (2017) for Gumbel-softmax and ST-Gumbel:
 * tau = max(tauMin, tau0 · exp(−rate · step)). Low tau lowers the relaxation's bias and raises its
 * variance, so training starts warm and cools. The exponential is computed in the wasm (as every
 * exp in snapgrad), so the schedule gives the same temperatures in every runtime.
 */
export function temperature(step: number, options: TemperatureOptions | null = {}): number {
  const op = 'estimators.temperature';
  const s = checkNumber(step, op, 'step', { min: 0 });
  const o = readOptions<TemperatureOptions>(options, op);
  const tau0 = checkNumber(o.tau0 ?? 1, op, 'tau0', { positive: true, f32: true });
  const tauMin = checkNumber(o.tauMin ?? 0.5, op, 'tauMin', { positive: true, f32: true });
  const rate = checkNumber(o.rate ?? 1e-4, op, 'rate', { min: 0 });
  const decayed = noGrad(() => {
    const x = tensor([-rate * s]);
    const e = exp(x);
    x.dispose();
    const v = e.item();
    e.dispose();
    return v;
  });
  return Math.max(tauMin, Math.fround(tau0 * decayed));
}
