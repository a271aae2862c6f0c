import { f32Affine, f32Axpy } from '../kernels/elementwise.js';
import { f32Hard } from '../kernels/hard.js';
import { adamUpdate, bopUpdate } from '../kernels/optim.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { zeros } from '../tensor/creation.js';
import { markModified } from '../tensor/derived.js';
import { keep } from '../tensor/scope.js';
import { rawBytes, Tensor } from '../tensor/tensor.js';
import { readOptions } from '../tensor/options.js';
import { F32_MAX } from './guard.js';
import { applyConstraint, infoOf } from './module.js';
import { checkArray, checkRecord, checkStateTensor, isPlainObject, sameShape, type OptimizerState, type StateValue } from './state.js';

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
  private baseLr: number;
  private currentLr: number;

  protected constructor(name: string, params: ParamsArg<H>, defaults: H, stateCount: number) {
    this.name = name;
    if (!Array.isArray(params) || params.length === 0) {
      throw new Error(`${name}: params must be a non-empty array of tensors or of { params, options } groups, got ${describe(params)}${typeof (params as any)?.parameters === 'function' ? '; pass model.parameters()' : ''}`);
    }
    const groups: ParamGroup<H>[] = params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ParamGroup<H>[]);
    const seen = new Set<Tensor>();
    const planned: { param: Tensor; options: H }[] = [];
    // Everything is checked before any state is allocated, so a bad call leaks nothing.
    groups.forEach((g, gi) => {
      if (g === null || typeof g !== 'object' || !Array.isArray(g.params)) throw new Error(`${name}: params[${gi}] must be a tensor or a { params, options } group, got ${describe(g)}`);
      const options = { ...defaults, ...readOptions<H>(g.options, name, `params[${gi}].options`) } as H;
      this.validate(options);
      this.groups.push({ options, baseLr: options.lr });
      g.params.forEach((p, i) => {
        checkFloat(p, name, `params[${gi}]${groups.length > 1 || !(params[0] instanceof Tensor) ? `.params[${i}]` : ''}`);
        if (!p.requiresGrad) throw new Error(`${name}: parameter #${p.id} must have requiresGrad: true`);
        if (p.node !== null) throw new Error(`${name}: tensor #${p.id} is the result of an op, not a parameter; pass leaf tensors (model.parameters())`);
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
    checkNumber(value, this.name, 'lr', { min: 0, max: F32_MAX });
    if (this.disposed) throw new Error(`${this.name}: the optimizer was disposed; make a new one`);
    this.currentLr = value;
    for (const g of this.groups) g.options.lr = this.baseLr === 0 ? value : g.baseLr * (value / this.baseLr);
  }

  /** True when update() applies the parameter's clipping itself (fused into its kernel). */
  protected readonly fusesConstraint: boolean = false;

  private disposed = false;

  /**
   * Checks that step() can run: the optimizer is alive, and every parameter is
   * alive and has no gradient or a float32 gradient of its own shape. step()
   * calls it before it updates anything, so a bad gradient changes no
   * parameter and no state; Chain calls it on every optimizer first.
   */
  checkStep(): void {
    const name = this.name;
    if (this.disposed) throw new Error(`${name}.step: the optimizer was disposed; make a new one`);
    this.slots.forEach(({ param: p }, i) => {
      if (p.disposed) throw new Error(`${name}.step: parameter ${i} (tensor #${p.id}) was disposed; make a new optimizer over live parameters`);
      const g: unknown = p.grad;
      if (g === null) return;
      if (!(g instanceof Tensor)) throw new Error(`${name}.step: parameter ${i} (tensor #${p.id}) has a grad that is not a Tensor (${describe(g)}); set p.grad to a float32 tensor of shape [${p.shape}] or null`);
      if (g.disposed) throw new Error(`${name}.step: the grad of parameter ${i} (tensor #${p.id}) was disposed; run backward() again or set p.grad = null`);
      if (g.dtype !== 'float32' || g.rank !== p.rank || g.shape.some((d, k) => d !== p.shape[k])) {
        throw new Error(`${name}.step: the grad of parameter ${i} (tensor #${p.id}) is ${g.dtype} [${g.shape}], expected float32 [${p.shape}] like the parameter; set p.grad to a matching tensor (e.g. g.cast('float32'), g.reshape([${p.shape}])) or null`);
      }
    });
  }

  step(): void {
    this.checkStep();
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
      // Whatever was assigned to grad (checkStep names anything that is not a tensor) is cleared.
      const g: unknown = s.param.grad;
      if (g instanceof Tensor) g.dispose();
      s.param.grad = null;
    }
  }

  /** Frees the optimizer's state buffers (not the parameters). */
  dispose(): void {
    this.disposed = true;
    for (const s of this.slots) for (const t of s.state) t.dispose();
  }

  /**
   * The state for a checkpoint: `tensors` are the state buffers themselves
   * (not copies), named "<parameter index>.<buffer>" (e.g. "0.m"); `values`
   * are JSON: the lr, each group's hyperparameters, each parameter's shape
   * and group, and per-optimizer counters (Adam's step counts).
   */
  stateDict(): OptimizerState {
    if (this.disposed) throw new Error(`${this.name}.stateDict: the optimizer was disposed; make a new one`);
    const names = this.stateNames();
    const tensors: Record<string, Tensor> = {};
    this.slots.forEach((s, i) => s.state.forEach((t, k) => { tensors[`${i}.${names[k]}`] = t; }));
    return {
      kind: this.name,
      tensors,
      values: {
        lr: this.currentLr,
        baseLr: this.baseLr,
        groups: this.groups.map((g) => ({ options: { ...g.options } as Record<string, StateValue>, baseLr: g.baseLr })),
        params: this.slots.map((s) => ({ shape: [...s.param.shape], group: this.groups.findIndex((g) => g.options === s.options) })),
        ...this.extraState(),
      },
    };
  }

  /**
   * Restores a state from stateDict() (of an optimizer of the same class over
   * parameters of the same shapes, in the same groups). Everything is checked
   * first; a rejected state changes nothing.
   */
  loadStateDict(state: OptimizerState): void {
    this.planLoad(state, `${this.name}.loadStateDict`, 'state')();
  }

  /** Validates a whole state and returns what writes it (Chain and loadCheckpoint check everything before writing anything). */
  protected planLoad(state: unknown, op: string, path: string): () => void {
    if (this.disposed) throw new Error(`${op}: the optimizer was disposed; make a new one`);
    const st = checkRecord(state, ['kind', 'tensors', 'values'], op, path);
    if (st.kind !== this.name) throw new Error(`${op}: ${path} is the state of ${typeof st.kind === 'string' ? st.kind : describe(st.kind)}, not of ${this.name}`);
    const extraKeys = Object.keys(this.extraState());
    const values = checkRecord(st.values, ['lr', 'baseLr', 'groups', 'params', ...extraKeys], op, `${path}.values`);
    const lrOf = (v: unknown, at: string): number => checkNumber(v, op, at, { min: 0, max: F32_MAX });
    const lr = lrOf(values.lr, `${path}.values.lr`);
    const baseLr = lrOf(values.baseLr, `${path}.values.baseLr`);
    const groups = checkArray(values.groups, this.groups.length, op, `${path}.values.groups`).map((g, gi) => {
      const at = `${path}.values.groups[${gi}]`;
      const rec = checkRecord(g, ['options', 'baseLr'], op, at);
      const options = checkRecord(rec.options, Object.keys(this.groups[gi].options), op, `${at}.options`);
      lrOf(options.lr, `${at}.options.lr`);
      try {
        this.validate(options as H);
      } catch (err) {
        throw new Error(`${op}: ${at}.options: ${(err as Error).message}`);
      }
      return { options: options as H, baseLr: lrOf(rec.baseLr, `${at}.baseLr`) };
    });
    checkArray(values.params, this.slots.length, op, `${path}.values.params`).forEach((p, i) => {
      const at = `${path}.values.params[${i}]`;
      const rec = checkRecord(p, ['shape', 'group'], op, at);
      const { param, options } = this.slots[i];
      if (!Array.isArray(rec.shape) || !sameShape(rec.shape, param.shape)) throw new Error(`${op}: ${at}.shape is ${describe(rec.shape)}, but parameter ${i} has shape [${param.shape}]`);
      const group = this.groups.findIndex((g) => g.options === options);
      if (rec.group !== group) throw new Error(`${op}: ${at}.group is ${describe(rec.group)}, but parameter ${i} is in group ${group}`);
    });
    const names = this.stateNames();
    const expected = this.slots.flatMap((s, i) => s.state.map((_, k) => `${i}.${names[k]}`));
    const tensors = checkRecord(st.tensors, expected, op, `${path}.tensors`);
    this.slots.forEach((s, i) => s.state.forEach((_, k) => {
      const key = `${i}.${names[k]}`;
      const data = checkStateTensor(tensors[key], s.param.shape, op, `${path}.tensors[${JSON.stringify(key)}]`);
      this.checkStateValues(names[k], data, op, `${path}.tensors[${JSON.stringify(key)}]`);
    }));
    const writeExtra = this.planExtraState(values, op, `${path}.values`);
    return () => {
      this.slots.forEach((s, i) => s.state.forEach((dst, k) => {
        rawBytes(dst).set(rawBytes(tensors[`${i}.${names[k]}`] as Tensor));
      }));
      // Slots share their group's options object: assigning in place updates both.
      this.groups.forEach((g, gi) => {
        Object.assign(g.options, groups[gi].options);
        g.baseLr = groups[gi].baseLr;
      });
      this.baseLr = baseLr;
      this.currentLr = lr;
      writeExtra();
    };
  }

  /** Names of each parameter's state buffers, in slot order. */
  protected stateNames(): string[] {
    return (this.slots[0]?.state ?? []).map((_, k) => `state${k}`);
  }

  /** Values beyond lr, groups and params that the state carries (Adam's step counts). */
  protected extraState(): Record<string, StateValue> {
    return {};
  }

  /** Checks the extra values of a state and returns what restores them. */
  protected planExtraState(_values: Record<string, unknown>, _op: string, _path: string): () => void {
    return () => {};
  }

  /** Lets an optimizer refuse state values it cannot run with (Adam: a negative second moment). */
  protected checkStateValues(_name: string, _data: Float32Array, _op: string, _path: string): void {}
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

/** SGD with optional momentum (v = momentum v + (g + wd p); p -= lr v) and L2 weight decay; p.grad is left unchanged. */
export class SGD extends Optimizer<Required<SGDOptions>> {
  constructor(params: ParamsArg<Required<SGDOptions>>, options: SGDOptions) {
    const o = readOptions<SGDOptions>(options, 'SGD');
    super('SGD', params, { lr: o.lr as number, momentum: o.momentum ?? 0, weightDecay: o.weightDecay ?? 0 }, 1);
  }

  protected validate(o: Required<SGDOptions>): void {
    checkNumber(o.lr, 'SGD', 'lr', { min: 0, max: F32_MAX });
    checkNumber(o.momentum, 'SGD', 'momentum', { min: 0, max: 1 });
    checkNumber(o.weightDecay, 'SGD', 'weightDecay', { min: 0, max: F32_MAX });
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

  protected override stateNames(): string[] {
    return ['momentum'];
  }
}

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/**
 * The adam_update kernel's coefficients for step t (1-based), each derived in
 * float64 from the float64 hyperparameters and rounded once to float32 by the
 * kernel call, as torch.optim.Adam derives them from Python floats: rounding
 * beta2 = 0.99999 to float32 before taking 1 - beta2 would make the first
 * update 0.9993·lr instead of lr.
 */
export function adamCoefficients(o: Required<AdamOptions>, t: number, decoupled: boolean): {
  b1: number; c1: number; b2: number; c2: number; stepSize: number; bc2Sqrt: number; eps: number; shrink: number; l2: number;
} {
  return {
    b1: o.beta1,
    c1: 1 - o.beta1,
    b2: o.beta2,
    c2: 1 - o.beta2,
    stepSize: o.lr / (1 - o.beta1 ** t),
    bc2Sqrt: Math.sqrt(1 - o.beta2 ** t),
    eps: o.eps,
    shrink: decoupled ? 1 - o.lr * o.weightDecay : 1,
    l2: decoupled ? 0 : o.weightDecay,
  };
}

/**
 * Adam (Kingma & Ba) with bias correction; weightDecay is L2 added to the
 * gradient. Computes what torch.optim.Adam computes, in its order; like it,
 * each parameter counts its own steps (a step without a gradient is not one).
 */
export class Adam extends Optimizer<Required<AdamOptions>> {
  private readonly steps = new Map<Tensor, number>();
  protected readonly decoupled: boolean = false;
  protected override readonly fusesConstraint = true;

  constructor(params: ParamsArg<Required<AdamOptions>>, options: AdamOptions, name = 'Adam') {
    const o = readOptions<AdamOptions>(options, name);
    super(name, params, {
      lr: o.lr as number,
      beta1: o.beta1 ?? 0.9,
      beta2: o.beta2 ?? 0.999,
      eps: o.eps ?? 1e-8,
      weightDecay: o.weightDecay ?? (name === 'AdamW' ? 0.01 : 0),
    }, 2);
  }

  protected validate(o: Required<AdamOptions>): void {
    const name = this.constructor.name;
    checkNumber(o.lr, name, 'lr', { min: 0, max: F32_MAX });
    checkNumber(o.beta1, name, 'beta1', { min: 0, max: 0.999999 });
    checkNumber(o.beta2, name, 'beta2', { min: 0, max: 0.999999999 });
    // eps must stay a normal float32: one that rounds to 0 divides 0 by 0 where v = 0.
    checkNumber(o.eps, name, 'eps', { min: 2 ** -126, max: F32_MAX });
    checkNumber(o.weightDecay, name, 'weightDecay', { min: 0, max: F32_MAX });
  }

  protected update({ param: p, options: o, state: [m, v] }: Slot<Required<AdamOptions>>, g: Tensor): void {
    const t = (this.steps.get(p) ?? 0) + 1;
    this.steps.set(p, t);
    const clip = infoOf(p).clip ?? Infinity;
    adamUpdate(p, g, m, v, { ...adamCoefficients(o, t, this.decoupled), clip });
  }

  protected override stateNames(): string[] {
    return ['m', 'v'];
  }

  /** Each parameter's step count, in parameter order (bias correction uses it). */
  protected override extraState(): Record<string, StateValue> {
    return { steps: this.slots.map((s) => this.steps.get(s.param) ?? 0) };
  }

  protected override planExtraState(values: Record<string, unknown>, op: string, path: string): () => void {
    const steps = checkArray(values.steps, this.slots.length, op, `${path}.steps`).map((t, i) => checkNumber(t, op, `${path}.steps[${i}]`, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }));
    return () => {
      this.slots.forEach((s, i) => {
        if (steps[i] === 0) this.steps.delete(s.param);
        else this.steps.set(s.param, steps[i]);
      });
    };
  }

  protected override checkStateValues(name: string, data: Float32Array, op: string, path: string): void {
    if (name !== 'v') return;
    const bad = data.findIndex((x) => x < 0);
    if (bad >= 0) throw new Error(`${op}: ${path} holds ${data[bad]} at index ${bad}; the second moment v must be >= 0`);
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter): p -= lr wd p, then the Adam step. Default weightDecay 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled = true;

  constructor(params: ParamsArg<Required<AdamOptions>>, options: AdamOptions) {
    super(params, options, 'AdamW');
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

  constructor(params: ParamsArg<Required<BopOptions> & { lr: number }>, options: BopOptions | null = {}) {
    const o = readOptions<BopOptions>(options, 'Bop');
    super('Bop', params, { lr: 0, gamma: o.gamma ?? 1e-4, threshold: o.threshold ?? 1e-8 }, 1);
    for (const s of this.slots) {
      f32Hard('binarize', s.param, s.param);
      markModified(s.param);
    }
  }

  protected validate(o: Required<BopOptions> & { lr: number }): void {
    checkNumber(o.gamma, 'Bop', 'gamma', { min: 0, max: 1 });
    checkNumber(o.threshold, 'Bop', 'threshold', { min: 0, max: F32_MAX });
  }

  protected beforeStep(): void {
    this.lastFlips = 0;
  }

  protected update({ param: w, options: o, state: [m] }: Slot<Required<BopOptions> & { lr: number }>, g: Tensor): void {
    this.lastFlips += bopUpdate(w, g, m, o.gamma, o.threshold);
  }

  protected override stateNames(): string[] {
    return ['m'];
  }

  protected override extraState(): Record<string, StateValue> {
    return { lastFlips: this.lastFlips };
  }

  protected override planExtraState(values: Record<string, unknown>, op: string, path: string): () => void {
    const flips = checkNumber(values.lastFlips, op, `${path}.lastFlips`, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
    return () => {
      this.lastFlips = flips;
    };
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

  /** Checks every optimizer before stepping any, so a bad gradient anywhere changes nothing. */
  step(): void {
    for (const o of this.optimizers) o.checkStep();
    for (const o of this.optimizers) o.step();
  }

  zeroGrad(): void {
    for (const o of this.optimizers) o.zeroGrad();
  }

  dispose(): void {
    for (const o of this.optimizers) o.dispose();
  }

  /** The optimizers' states in one: tensors named "<optimizer index>.<name>", values { optimizers: [{ kind, values }] }. */
  stateDict(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    const optimizers = this.optimizers.map((o, k) => {
      const st = o.stateDict();
      for (const [name, t] of Object.entries(st.tensors)) tensors[`${k}.${name}`] = t;
      return { kind: st.kind, values: st.values };
    });
    return { kind: 'Chain', tensors, values: { optimizers } };
  }

  /** Restores every optimizer's state; all are checked before any is written. */
  loadStateDict(state: OptimizerState): void {
    this.planLoad(state, 'Chain.loadStateDict', 'state')();
  }

  private planLoad(state: unknown, op: string, path: string): () => void {
    const st = checkRecord(state, ['kind', 'tensors', 'values'], op, path);
    if (st.kind !== 'Chain') throw new Error(`${op}: ${path} is the state of ${typeof st.kind === 'string' ? st.kind : describe(st.kind)}, not of Chain`);
    const values = checkRecord(st.values, ['optimizers'], op, `${path}.values`);
    const subs = checkArray(values.optimizers, this.optimizers.length, op, `${path}.values.optimizers`);
    if (!isPlainObject(st.tensors)) throw new Error(`${op}: ${path}.tensors must be a plain object, got ${describe(st.tensors)}`);
    // Null-prototype records: an entry named "0.__proto__" stays an entry (and is then named as unexpected).
    const split: Record<string, Tensor>[] = this.optimizers.map(() => Object.create(null));
    for (const [name, t] of Object.entries(st.tensors)) {
      const dot = name.indexOf('.');
      const k = Number(name.slice(0, dot));
      if (dot < 1 || !Number.isInteger(k) || String(k) !== name.slice(0, dot) || k >= this.optimizers.length) {
        throw new Error(`${op}: ${path}.tensors has the unexpected entry ${JSON.stringify(name)} (names are "<optimizer index>.<name>")`);
      }
      split[k][name.slice(dot + 1)] = t as Tensor;
    }
    const writes = this.optimizers.map((o, k) => {
      const sub = checkRecord(subs[k], ['kind', 'values'], op, `${path}.values.optimizers[${k}]`);
      return o['planLoad']({ kind: sub.kind, tensors: split[k], values: sub.values }, op, `${path}.optimizers[${k}]`);
    });
    return () => {
      for (const write of writes) write();
    };
  }
}

/** Checks a state for an optimizer or a Chain completely and returns what writes it (for loadCheckpoint). */
export function planOptimizerLoad(optimizer: Optimizer<any> | Chain, state: unknown, op: string, path: string): () => void {
  return optimizer['planLoad'](state, op, path);
}
