import { f32Affine, f32Axpy } from '../kernels/elementwise.js';
import { f32Hard } from '../kernels/hard.js';
import { adamUpdate, bopUpdate } from '../kernels/optim.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { zeros } from '../tensor/creation.js';
import { markModified } from '../tensor/derived.js';
import { keep } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { applyConstraint, infoOf } from './module.js';

/** A set of parameters with its own hyperparameters (e.g. a smaller lr, no weight decay). */
export interface ParamGroup<H> {
  params: Tensor[];
  options?: Partial<H>;
}

export type ParamsArg<H> = Tensor[] | ParamGroup<H>[];

interface Slot<H> {
  param: Tensor;
  options: H;
  state: Tensor[];
}

/**
 * Base of the optimizers. Parameters are updated in place; a parameter's
 * constraint (latent-weight clipping of binary layers) is applied after each
 * update. `lr` can be changed between steps (schedules do).
 */
export abstract class Optimizer<H extends { lr: number } = { lr: number }> {
  protected readonly slots: Slot<H>[] = [];
  private readonly name: string;
  /** Each group's options, with the lr it was given (scaled together when lr is set). */
  private readonly groups: { options: H; baseLr: number }[] = [];
  private readonly baseLr: number;
  private currentLr: number;

  protected constructor(name: string, params: ParamsArg<H>, defaults: H, stateCount: number) {
    this.name = name;
    if (!Array.isArray(params) || params.length === 0) throw new Error(`${name}: params must be a non-empty array of tensors or of { params, options } groups`);
    const groups: ParamGroup<H>[] = params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ParamGroup<H>[]);
    const seen = new Set<Tensor>();
    const planned: { param: Tensor; options: H }[] = [];
    // Everything is checked before any state is allocated, so a bad call leaks nothing.
    groups.forEach((g, gi) => {
      if (g === null || typeof g !== 'object' || !Array.isArray(g.params)) throw new Error(`${name}: params[${gi}] must be a tensor or a { params, options } group, got ${describe(g)}`);
      const options = { ...defaults, ...(g.options ?? {}) } as H;
      this.validate(options);
      this.groups.push({ options, baseLr: options.lr });
      g.params.forEach((p, i) => {
        checkFloat(p, name, `params[${gi}]${groups.length > 1 || !(params[0] instanceof Tensor) ? `.params[${i}]` : ''}`);
        if (!p.requiresGrad) throw new Error(`${name}: parameter #${p.id} must have requiresGrad: true`);
        if (seen.has(p)) throw new Error(`${name}: parameter #${p.id} appears twice`);
        seen.add(p);
        planned.push({ param: p, options });
      });
    });
    this.baseLr = defaults.lr;
    this.currentLr = defaults.lr;
    // State is allocated up front, so a training loop's memory is flat from the first step.
    for (const { param, options } of planned) {
      this.slots.push({ param, options, state: Array.from({ length: stateCount }, () => keep(zeros([...param.shape]))) });
    }
  }

  /** Checks hyperparameters; throws naming the bad one. */
  protected abstract validate(options: H): void;

  /** Updates one parameter from its gradient. */
  protected abstract update(slot: Slot<H>, grad: Tensor): void;

  get params(): Tensor[] {
    return this.slots.map((s) => s.param);
  }

  /**
   * The learning rate. Setting it scales every group by value / (the lr given
   * at construction), so groups keep their ratios (schedules set it each step).
   */
  get lr(): number {
    return this.currentLr;
  }

  set lr(value: number) {
    checkNumber(value, this.name, 'lr', { min: 0 });
    this.currentLr = value;
    for (const g of this.groups) g.options.lr = this.baseLr === 0 ? value : g.baseLr * (value / this.baseLr);
  }

  /** True when update() applies the parameter's clipping itself (fused into its kernel). */
  protected readonly fusesConstraint: boolean = false;

  step(): void {
    this.beforeStep();
    for (const slot of this.slots) {
      const g = slot.param.grad;
      if (g === null) continue;
      this.update(slot, g);
      if (!this.fusesConstraint) applyConstraint(slot.param);
      markModified(slot.param);
    }
  }

  protected beforeStep(): void {}

  /** Frees the parameters' gradients (call before each backward pass). */
  zeroGrad(): void {
    for (const s of this.slots) {
      s.param.grad?.dispose();
      s.param.grad = null;
    }
  }

  /** Frees the optimizer's state buffers (not the parameters). */
  dispose(): void {
    for (const s of this.slots) for (const t of s.state) t.dispose();
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

/** SGD with optional momentum (v = momentum v + (g + wd p); p -= lr v) and L2 weight decay; p.grad is left unchanged. */
export class SGD extends Optimizer<Required<SGDOptions>> {
  constructor(params: ParamsArg<Required<SGDOptions>>, options: SGDOptions) {
    super('SGD', params, { lr: options?.lr, momentum: options?.momentum ?? 0, weightDecay: options?.weightDecay ?? 0 }, 1);
  }

  protected validate(o: Required<SGDOptions>): void {
    checkNumber(o.lr, 'SGD', 'lr', { min: 0 });
    checkNumber(o.momentum, 'SGD', 'momentum', { min: 0, max: 1 });
    checkNumber(o.weightDecay, 'SGD', 'weightDecay', { min: 0 });
  }

  protected update({ param: p, options: o, state: [v] }: Slot<Required<SGDOptions>>, g: Tensor): void {
    if (o.momentum === 0 && o.weightDecay === 0) {
      f32Axpy(p, g, -o.lr);
      return;
    }
    // v = momentum v + g + wd p (without momentum v is scratch, reset to 0 first)
    f32Affine(v, o.momentum, 0, v);
    f32Axpy(v, g, 1);
    if (o.weightDecay > 0) f32Axpy(v, p, o.weightDecay);
    f32Axpy(p, v, -o.lr);
  }
}

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Adam (Kingma & Ba) with bias correction; weightDecay is L2 added to the gradient. */
export class Adam extends Optimizer<Required<AdamOptions>> {
  private t = 0;
  protected readonly decoupled: boolean = false;
  protected override readonly fusesConstraint = true;

  constructor(params: ParamsArg<Required<AdamOptions>>, options: AdamOptions, name = 'Adam') {
    super(name, params, {
      lr: options?.lr,
      beta1: options?.beta1 ?? 0.9,
      beta2: options?.beta2 ?? 0.999,
      eps: options?.eps ?? 1e-8,
      weightDecay: options?.weightDecay ?? 0,
    }, 2);
  }

  protected validate(o: Required<AdamOptions>): void {
    const name = this.constructor.name;
    checkNumber(o.lr, name, 'lr', { min: 0 });
    checkNumber(o.beta1, name, 'beta1', { min: 0, max: 0.999999 });
    checkNumber(o.beta2, name, 'beta2', { min: 0, max: 0.999999999 });
    checkNumber(o.eps, name, 'eps', { positive: true });
    checkNumber(o.weightDecay, name, 'weightDecay', { min: 0 });
  }

  protected beforeStep(): void {
    this.t++;
  }

  protected update({ param: p, options: o, state: [m, v] }: Slot<Required<AdamOptions>>, g: Tensor): void {
    const clip = infoOf(p).clip ?? Infinity;
    adamUpdate(p, g, m, v, {
      lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay,
      decoupled: this.decoupled, bc1: 1 - o.beta1 ** this.t, bc2: 1 - o.beta2 ** this.t, clip,
    });
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter): p -= lr wd p, then the Adam step. Default weightDecay 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled = true;

  constructor(params: ParamsArg<Required<AdamOptions>>, options: AdamOptions) {
    super(params, { ...options, weightDecay: options?.weightDecay ?? 0.01 }, 'AdamW');
  }
}

export interface BopOptions {
  /** Adaptivity rate of the gradient moving average (default 1e-4). */
  gamma?: number;
  /** Flip threshold (default 1e-8). */
  threshold?: number;
}

/**
 * Bop, the binary optimizer (Helwegen et al. 2019): no latent weights — the
 * parameters hold ±1 and a weight flips when the exponential moving average m
 * of its gradient exceeds the threshold and agrees in sign with the weight:
 * m = (1 - gamma) m + gamma g;  w = -w where |m| > threshold and sign(m) = sign(w).
 * Parameters are binarized (0 -> +1) on construction. `lastFlips` counts the
 * weights flipped by the latest step.
 */
export class Bop extends Optimizer<Required<BopOptions> & { lr: number }> {
  lastFlips = 0;

  constructor(params: ParamsArg<Required<BopOptions> & { lr: number }>, options: BopOptions = {}) {
    super('Bop', params, { lr: 0, gamma: options.gamma ?? 1e-4, threshold: options.threshold ?? 1e-8 }, 1);
    for (const s of this.slots) {
      f32Hard('binarize', s.param, s.param);
      markModified(s.param);
    }
  }

  protected validate(o: Required<BopOptions> & { lr: number }): void {
    checkNumber(o.gamma, 'Bop', 'gamma', { min: 0, max: 1 });
    checkNumber(o.threshold, 'Bop', 'threshold', { min: 0 });
  }

  protected beforeStep(): void {
    this.lastFlips = 0;
  }

  protected update({ param: w, options: o, state: [m] }: Slot<Required<BopOptions> & { lr: number }>, g: Tensor): void {
    this.lastFlips += bopUpdate(w, g, m, o.gamma, o.threshold);
  }
}

/** Steps several optimizers as one (e.g. Bop for binary weights, Adam for the rest). */
export class Chain {
  readonly optimizers: Optimizer<any>[];

  constructor(...optimizers: Optimizer<any>[]) {
    if (optimizers.length === 0 || optimizers.some((o) => !(o instanceof Optimizer))) {
      throw new Error('Chain: expected one or more optimizers');
    }
    this.optimizers = optimizers;
  }

  step(): void {
    for (const o of this.optimizers) o.step();
  }

  zeroGrad(): void {
    for (const o of this.optimizers) o.zeroGrad();
  }

  dispose(): void {
    for (const o of this.optimizers) o.dispose();
  }
}
