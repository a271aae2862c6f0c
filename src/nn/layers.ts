import { mul, relu, sigmoid, tanh, clip } from '../ops/elementwise.js';
import { reshape } from '../ops/shape.js';
import { binarize, sign, type SignOptions } from '../ste/sign.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { rand } from '../tensor/creation.js';
import { f32Affine } from '../kernels/elementwise.js';
import { f32Hard } from '../kernels/hard.js';
import { Tensor } from '../tensor/tensor.js';
import { composite, noGrad } from '../autograd/tape.js';
import { choiceOption, readOptions } from '../tensor/options.js';
import { checkInputTensor, F32_MAX, seedOption } from './guard.js';
import { layerSeed } from './init.js';
import { isDeclared, type DeclaredLayer, type FreezeContext, type FrozenStage, type Macs } from '../freeze/types.js';
import { Module } from './module.js';

const NO_MACS: Macs = Object.freeze({ binary: 0, binaryWeights: 0, int8: 0, float: 0 });

/** A step of a Sequential: a module, or a plain function of the previous step's output. */
export type SequentialStep = Module | ((x: Tensor) => Tensor);

/** Wraps a plain function as a step; it has no parameters and is traced through by freeze/summary. */
class FunctionStep extends Module {
  constructor(readonly fn: (x: Tensor) => Tensor, private readonly index: number) {
    super();
  }

  forward(x: Tensor): Tensor {
    const y: unknown = this.fn(x);
    if (!(y instanceof Tensor)) throw new Error(`Sequential: step ${this.index} (a function) must return a Tensor, got ${describe(y)}`);
    return y;
  }
}

/**
 * Applies its steps in order; children are named "0", "1", ... A step is a
 * Module or a plain function (x) => Tensor.
 */
export class Sequential extends Module {
  constructor(...layers: SequentialStep[]) {
    super();
    layers.forEach((m, i) => {
      if (typeof m === 'function' && !(m instanceof Module)) {
        this.registerModule(String(i), new FunctionStep(m, i));
        return;
      }
      if (!(m instanceof Module)) throw new Error(`Sequential: layer ${i} must be a Module or a function (x) => Tensor, got ${describe(m)}`);
      this.registerModule(String(i), m);
    });
  }

  get layers(): Module[] {
    return this.modules();
  }

  forward(x: Tensor): Tensor {
    checkInputTensor(x, 'Sequential');
    // The outputs of inner layers are intermediates: tied to the result (freed with it) or freed now.
    return composite(() => {
      let y = x;
      this.modules().forEach((m, i) => {
        const out: unknown = m.forward(y);
        if (!(out instanceof Tensor)) throw new Error(`Sequential: layer ${i} (${m.constructor.name}) must return one Tensor to feed the next layer, got ${describe(out)}`);
        y = out;
      });
      return y;
    });
  }

  /**
   * Features per input row, read from the first layer that fixes them (layers
   * before it must keep rows as they are: activations, Flatten, Dropout), or
   * null. Lets freeze/summary trace without an example.
   */
  inputWidth(): number | null {
    for (const m of this.modules()) {
      const width = (m as Partial<DeclaredLayer> & { inputWidth?: () => number | null }).inputWidth;
      if (typeof width === 'function') return width.call(m);
      if (!isDeclared(m)) return null;
    }
    return null;
  }
}

/** A module made from a function of one tensor (activations). */
abstract class Activation extends Module {
  forward(x: Tensor): Tensor {
    checkInputTensor(x, this.constructor.name);
    checkFloat(x, this.constructor.name, 'x');
    return this.apply(x);
  }
  protected abstract apply(x: Tensor): Tensor;
  /** The frozen stage type (same name as the layer, lower case). */
  protected abstract readonly stageType: string;
  protected stageConfig(): Record<string, unknown> {
    return {};
  }
  freezeStage(ctx: FreezeContext): FrozenStage {
    return ctx.stage(this.stageType, {}, this.stageConfig());
  }
  summaryMacs(): Macs {
    return { ...NO_MACS };
  }
}

export class ReLU extends Activation {
  protected readonly stageType = 'relu';
  protected apply(x: Tensor): Tensor { return relu(x); }
}

export class Tanh extends Activation {
  protected readonly stageType = 'tanh';
  protected apply(x: Tensor): Tensor { return tanh(x); }
}

export class Sigmoid extends Activation {
  protected readonly stageType = 'sigmoid';
  protected apply(x: Tensor): Tensor { return sigmoid(x); }
}

/** clip(x, min, max) (default [-1, 1]), the usual companion of binarized activations. */
export class Hardtanh extends Activation {
  readonly min: number;
  readonly max: number;

  constructor(min: number | null = -1, max: number | null = 1) {
    super();
    this.min = checkNumber(min ?? -1, 'Hardtanh', 'min');
    this.max = checkNumber(max ?? 1, 'Hardtanh', 'max');
    if (!(this.min < this.max)) throw new Error(`Hardtanh: min (${this.min}) must be < max (${this.max})`);
  }
  protected readonly stageType = 'hardtanh';
  protected apply(x: Tensor): Tensor { return clip(x, this.min, this.max); }
  protected stageConfig(): Record<string, unknown> { return { min: this.min, max: this.max }; }
}

/** The surrogate-gradient options of Sign and Binarize, checked when the layer is made rather than at its first forward pass. */
function signOptions(options: SignOptions | null, op: string): SignOptions {
  const o = readOptions<SignOptions>(options, op);
  choiceOption(o.grad, op, 'grad', ['identity', 'clipped', 'approx', 'swish'] as const, 'identity');
  if (o.clipValue !== undefined) checkNumber(o.clipValue, op, 'clipValue', { positive: true, max: F32_MAX });
  if (o.beta !== undefined) checkNumber(o.beta, op, 'beta', { positive: true, max: F32_MAX });
  return o;
}

/** ste.sign as a layer (sign(0) = 0). */
export class Sign extends Activation {
  readonly options: SignOptions;
  constructor(options: SignOptions | null = {}) {
    super();
    this.options = signOptions(options, 'Sign');
  }
  protected readonly stageType = 'sign';
  protected apply(x: Tensor): Tensor { return sign(x, this.options); }
}

/** ste.binarize as a layer (±1, 0 -> +1): binary activations that bit-pack. */
export class Binarize extends Activation {
  readonly options: SignOptions;
  constructor(options: SignOptions | null = {}) {
    super();
    this.options = signOptions(options, 'Binarize');
  }
  protected readonly stageType = 'binarize';
  protected apply(x: Tensor): Tensor { return binarize(x, this.options); }
}

/** [batch, ...] -> [batch, product of the rest]. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    checkInputTensor(x, 'Flatten');
    if (x.rank < 1) throw new Error(`Flatten: x must have a batch axis, got shape [${x.shape}]`);
    const rest = x.shape.slice(1).reduce((a, b) => a * b, 1);
    return reshape(x, [x.shape[0], rest]);
  }
  freezeStage(ctx: FreezeContext): FrozenStage {
    return ctx.stage('flatten', {}, {});
  }
  summaryMacs(): Macs {
    return { ...NO_MACS };
  }
}

/** Zeroes each element with probability p in training and scales the rest by 1/(1 - p). */
export class Dropout extends Module {
  private stream: number;

  readonly p: number;

  constructor(p: number | null = 0.5, options: { seed?: number } | null = {}) {
    super();
    this.p = checkNumber(p ?? 0.5, 'Dropout', 'p', { min: 0, max: 1 });
    if (this.p === 1) throw new Error('Dropout: p must be < 1 (p = 1 would drop everything)');
    this.stream = layerSeed(seedOption(readOptions<{ seed?: number }>(options, 'Dropout').seed, 'Dropout'));
  }

  forward(x: Tensor): Tensor {
    checkInputTensor(x, 'Dropout');
    checkFloat(x, 'Dropout', 'x');
    if (!this.training || this.p === 0) return composite(() => mul(x, 1));
    this.stream = (Math.imul(this.stream, 1664525) + 1013904223) >>> 0;
    const keepScale = 1 / (1 - this.p);
    return composite(() => {
      const mask = noGrad(() => {
        const u = rand([...x.shape], { seed: this.stream });
        // mask = (u >= p) * keepScale, via binarize of (u - p): ±1 (u == p counts as kept), mapped to 0 or keepScale.
        f32Affine(u, 1, -this.p, u);
        f32Hard('binarize', u, u);
        return f32Affine(u, keepScale / 2, keepScale / 2, u);
      });
      return mul(x, mask);
    });
  }

  /** The identity in eval mode: no stage. */
  freezeStage(): null {
    return null;
  }

  summaryMacs(): Macs {
    return { ...NO_MACS };
  }
}

/** Returns its input unchanged (a placeholder layer, e.g. an optional block switched off). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    checkInputTensor(x, 'Identity');
    // A new tensor (a view of x, any dtype), so the caller may dispose input and output independently; gradients pass through.
    return reshape(x, [...x.shape]);
  }

  /** The identity: no stage. */
  freezeStage(): null {
    return null;
  }

  summaryMacs(): Macs {
    return { ...NO_MACS };
  }
}
