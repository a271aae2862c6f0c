import { markModified } from '../tensor/derived.js';
import { checkTensor, describe } from '../tensor/checks.js';
import { keep } from '../tensor/scope.js';
import { rawBytes, Tensor } from '../tensor/tensor.js';
import { f32Clip } from '../kernels/elementwise.js';
import { boolOption, choiceOption, readOptions } from '../tensor/options.js';
import { fromTorchState, toTorchState, type TorchLayoutOptions } from './torch-state.js';

/** What a parameter is, for optimizers (Bop takes 'binary') and summary(). */
export interface ParamInfo {
  /** Bits per weight once frozen: 1 for binarized weights, k for k-bit quantized, 32 for float. */
  bits: number;
  /** Latent weights are clipped to [-clip, clip] after every optimizer step. */
  clip?: number;
  /** Bytes the frozen form stores, when its layout is not the default (1-bit rows padded to 128 bits; int8; float32). */
  frozenBytes?: number;
}

const paramInfo = new WeakMap<Tensor, ParamInfo>();

export function infoOf(p: Tensor): ParamInfo {
  return paramInfo.get(p) ?? { bits: 32 };
}

/** Applies a parameter's constraint (latent-weight clipping) after an in-place update. */
export function applyConstraint(p: Tensor): void {
  const clip = paramInfo.get(p)?.clip;
  if (clip !== undefined) f32Clip(p, -clip, clip, p);
}

/** loadStateDict options: strictness, and where the state comes from. */
export interface LoadStateDictOptions extends TorchLayoutOptions {
  /** Missing and unexpected names are errors (default true). */
  strict?: boolean;
  /** 'torch': a PyTorch state_dict (PyTorch names, OIHW conv weights, [C, H, W] flatten order), converted on load. */
  from?: 'snapgrad' | 'torch';
}

/** stateDict options: `to: 'torch'` returns copies in PyTorch names and layouts. */
export interface StateDictOptions extends TorchLayoutOptions {
  to?: 'snapgrad' | 'torch';
}

/** The layout options only mean something with PyTorch layout. */
function rejectLayout(o: TorchLayoutOptions, op: string, what: string): void {
  if (o.inputShape !== undefined || o.example !== undefined) throw new Error(`${op}: inputShape and example only apply with ${what}`);
}

/** How to turn a state value into what the model holds, where cast()/reshape() can. */
function stateFix(src: Tensor, dst: Tensor): string {
  // A conv weight in OIHW is a permutation, not a reshape.
  const s = dst.shape;
  if (s.length === 4 && src.shape.length === 4 && [s[3], s[2], s[0], s[1]].every((d, i) => d === src.shape[i])) {
    return `; that is PyTorch's OIHW conv layout (snapgrad's is HWIO [kh, kw, in/groups, out]): load a PyTorch state with loadStateDict(state, { from: 'torch' })`;
  }
  const steps: string[] = [];
  if (src.dtype !== dst.dtype && (dst.dtype === 'float32' || (dst.dtype === 'int32' && src.dtype !== 'int32'))) steps.push(`.cast('${dst.dtype}')`);
  if (src.size === dst.size && (src.shape.length !== dst.shape.length || src.shape.some((d, i) => d !== dst.shape[i]))) steps.push(`.reshape([${dst.shape}])`);
  return steps.length ? `; convert it with value${steps.join('')}` : '';
}

/**
 * Base of every layer. A module owns parameters (trainable, requiresGrad),
 * buffers (state such as running statistics) and child modules; all are
 * reachable by dotted names ("layers.0.weight") for stateDict().
 */
export abstract class Module {
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /**
   * The layer's computation. Most layers take and return one tensor; a model
   * may take several (`forward(a, b)`) and return several (an array or an
   * object of tensors).
   */
  abstract forward(...inputs: any[]): any;

  /** Same as forward(...inputs), typed by the subclass's forward. */
  call(...inputs: Parameters<this['forward']>): ReturnType<this['forward']> {
    return this.forward(...inputs) as ReturnType<this['forward']>;
  }

  protected registerParameter(name: string, t: Tensor, info: ParamInfo = { bits: 32 }): Tensor {
    t.requiresGrad = true;
    keep(t);
    paramInfo.set(t, info);
    this.#replaceTensor(this.ownParams, name, t);
    return t;
  }

  protected registerBuffer(name: string, t: Tensor): Tensor {
    keep(t);
    this.#replaceTensor(this.ownBuffers, name, t);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    if (!(m instanceof Module)) throw new Error(`${this.constructor.name}: child "${name}" must be a Module, got ${describe(m)}`);
    this.children.set(name, m);
    return m;
  }

  #replaceTensor(map: Map<string, Tensor>, name: string, t: Tensor): void {
    const old = map.get(name);
    if (old !== undefined && old !== t) old.dispose();
    map.set(name, t);
  }

  protected param(name: string): Tensor {
    const t = this.ownParams.get(name);
    if (t === undefined) throw new Error(`${this.constructor.name}: no parameter "${name}"`);
    return t;
  }

  protected optionalParam(name: string): Tensor | null {
    return this.ownParams.get(name) ?? null;
  }

  protected buffer(name: string): Tensor {
    const t = this.ownBuffers.get(name);
    if (t === undefined) throw new Error(`${this.constructor.name}: no buffer "${name}"`);
    return t;
  }

  /**
   * Throws when one of this layer's own parameters or buffers was disposed
   * (e.g. by dispose()): kernels would otherwise read freed memory.
   */
  protected checkAlive(op = `${this.constructor.name}.forward`): void {
    for (const [kind, map] of [['parameter', this.ownParams], ['buffer', this.ownBuffers]] as const) {
      for (const [name, t] of map) {
        if (t.disposed) throw new Error(`${op}: the layer's ${kind} "${name}" (tensor #${t.id}) was disposed (by dispose()?); make a new layer`);
      }
    }
  }

  /** The child modules, in registration order. */
  modules(): Module[] {
    return [...this.children.values()];
  }

  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, m] of this.children) out.push(...m.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, t] of this.ownParams) out.push([prefix ? `${prefix}.${name}` : name, t]);
    for (const [name, m] of this.children) out.push(...m.namedParameters(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, t] of this.ownBuffers) out.push([prefix ? `${prefix}.${name}` : name, t]);
    for (const [name, m] of this.children) out.push(...m.namedBuffers(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  /** All trainable tensors (recursively). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Parameters whose frozen form is 1 bit (the latent weights of binary layers): the ones Bop trains. */
  binaryParameters(): Tensor[] {
    return this.parameters().filter((p) => infoOf(p).bits === 1);
  }

  /** Every parameter that is not binary (for Adam next to Bop). */
  nonBinaryParameters(): Tensor[] {
    return this.parameters().filter((p) => infoOf(p).bits !== 1);
  }

  train(mode: boolean | null = true): this {
    const on = boolOption(mode, `${this.constructor.name}.train`, 'mode', true);
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Parameters and buffers by dotted name (the tensors themselves, not copies).
   * With { to: 'torch' }: new tensors (yours to dispose) in PyTorch names and
   * layouts, for io.saveSafetensors and PyTorch's load_state_dict; a model with
   * convolutions also needs inputShape (see loadStateDict).
   */
  stateDict(options: StateDictOptions | null = {}): Record<string, Tensor> {
    const o = readOptions<StateDictOptions>(options, 'stateDict');
    if (choiceOption(o.to, 'stateDict', 'to', ['snapgrad', 'torch'] as const, 'snapgrad') === 'torch') return toTorchState(this, o);
    rejectLayout(o, 'stateDict', "{ to: 'torch' }");
    return Object.fromEntries([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values into the parameters and buffers (shapes must match). With
   * strict (default), missing and unexpected names are errors.
   * With { from: 'torch' }, `state` is a PyTorch state_dict (e.g. from
   * loadSafetensors of a file saved by safetensors.torch.save_file): names and
   * layouts are converted (src/nn/torch-state.ts). A model with convolutions
   * also needs { inputShape } (one example's NHWC shape, e.g. [28, 28, 1]) or
   * { example }: it is traced once to find the flatten before the first dense
   * layer, whose columns PyTorch orders [C, H, W].
   */
  loadStateDict(state: Record<string, Tensor> | Map<string, Tensor>, options: LoadStateDictOptions | null = {}): void {
    const o = readOptions<LoadStateDictOptions>(options, 'loadStateDict');
    const strict = boolOption(o.strict, 'loadStateDict', 'strict', true);
    const from = choiceOption(o.from, 'loadStateDict', 'from', ['snapgrad', 'torch'] as const, 'snapgrad');
    if (from === 'snapgrad') rejectLayout(o, 'loadStateDict', "{ from: 'torch' }");
    if (state instanceof Map) {
      for (const k of state.keys()) if (typeof k !== 'string') throw new Error(`loadStateDict: the keys of a state Map must be strings, got ${describe(k)}`);
      state = Object.fromEntries(state) as Record<string, Tensor>;
    }
    if (state === null || typeof state !== 'object' || Array.isArray(state) || state instanceof Tensor) {
      throw new Error(`loadStateDict: state must be an object (or Map) of tensors by name, like the one stateDict() returns, got ${describe(state)}`);
    }
    if (from === 'torch') {
      const converted = fromTorchState(this, state, { ...o, strict });
      try {
        this.loadStateDict(converted, { strict });
      } finally {
        for (const t of Object.values(converted)) t.dispose();
      }
      return;
    }
    const own = this.stateDict();
    for (const [name, t] of Object.entries(own)) {
      if (t.disposed) throw new Error(`loadStateDict: the model's own tensor "${name}" was disposed (the model was disposed?); make a new model`);
    }
    const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
    if (strict) {
      const missing = Object.keys(own).filter((k) => !has(state, k));
      const unexpected = Object.keys(state).filter((k) => !has(own, k));
      if (missing.length || unexpected.length) {
        throw new Error(`loadStateDict: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && unexpected.length ? '; ' : ''}${unexpected.length ? `unexpected ${unexpected.join(', ')}` : ''} (pass { strict: false } to load a partial state)`);
      }
    }
    // Check everything before writing anything, so a bad dict changes nothing.
    for (const [name, src] of Object.entries(state)) {
      if (!has(own, name)) continue;
      const dst = own[name];
      checkTensor(src, 'loadStateDict', `state["${name}"]`);
      if (src.dtype !== dst.dtype || src.shape.length !== dst.shape.length || src.shape.some((d, i) => d !== dst.shape[i])) {
        throw new Error(`loadStateDict: state["${name}"] is ${src.dtype} [${src.shape}], expected ${dst.dtype} [${dst.shape}]${stateFix(src, dst)}`);
      }
      this.checkStateValue(name, src);
    }
    for (const [name, src] of Object.entries(state)) {
      if (!has(own, name)) continue;
      const dst = own[name];
      if (dst === undefined) continue;
      rawBytes(dst).set(rawBytes(src));
      markModified(dst);
    }
  }

  /**
   * Lets a module refuse values it cannot run with (e.g. a negative running
   * variance) before loadStateDict writes anything; `name` is the dotted name.
   */
  protected checkStateValue(name: string, value: Tensor, fullName = name): void {
    const dot = name.indexOf('.');
    if (dot < 0) return;
    const child = this.children.get(name.slice(0, dot));
    child?.checkStateValue(name.slice(dot + 1), value, fullName);
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) t.dispose();
  }
}
