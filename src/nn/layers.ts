import { mul, relu, sigmoid, tanh, clip } from '../ops/elementwise.js';
import { reshape } from '../ops/shape.js';
import { binarize, sign, type SignOptions } from '../ste/sign.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { rand } from '../tensor/creation.js';
import { f32Affine } from '../kernels/elementwise.js';
import { f32Hard } from '../kernels/hard.js';
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/tape.js';
import { layerSeed } from './init.js';
import { isDeclared, type DeclaredLayer, type FreezeContext, type FrozenStage, type Macs } from '../freeze/types.js';
import { Module } from './module.js';

const NO_MACS: Macs = Object.freeze({ binary: 0, binaryWeights: 0, int8: 0, float: 0 });

/** Applies its child modules in order; children are named "0", "1", ... */
export class Sequential extends Module {
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => {
      if (!(m instanceof Module)) throw new Error(`Sequential: layer ${i} must be a Module, got ${describe(m)}`);
      this.registerModule(String(i), m);
    });
  }

  get layers(): Module[] {
    return this.modules();
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.modules()) y = m.forward(y);
    return y;
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
  constructor(readonly min = -1, readonly max = 1) {
    super();
    if (!(min < max)) throw new Error(`Hardtanh: min (${min}) must be < max (${max})`);
  }
  protected readonly stageType = 'hardtanh';
  protected apply(x: Tensor): Tensor { return clip(x, this.min, this.max); }
  protected stageConfig(): Record<string, unknown> { return { min: this.min, max: this.max }; }
}

/** ste.sign as a layer (sign(0) = 0). */
export class Sign extends Activation {
  constructor(readonly options: SignOptions = {}) { super(); }
  protected readonly stageType = 'sign';
  protected apply(x: Tensor): Tensor { return sign(x, this.options); }
}

/** ste.binarize as a layer (±1, 0 -> +1): binary activations that bit-pack. */
export class Binarize extends Activation {
  constructor(readonly options: SignOptions = {}) { super(); }
  protected readonly stageType = 'binarize';
  protected apply(x: Tensor): Tensor { return binarize(x, this.options); }
}

/** [batch, ...] -> [batch, product of the rest]. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
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

  constructor(readonly p = 0.5, options: { seed?: number } = {}) {
    super();
    checkNumber(p, 'Dropout', 'p', { min: 0, max: 1 });
    if (p === 1) throw new Error('Dropout: p must be < 1 (p = 1 would drop everything)');
    this.stream = layerSeed(options.seed);
  }

  forward(x: Tensor): Tensor {
    checkFloat(x, 'Dropout', 'x');
    if (!this.training || this.p === 0) return mul(x, 1);
    this.stream = (Math.imul(this.stream, 1664525) + 1013904223) >>> 0;
    const keepScale = 1 / (1 - this.p);
    const mask = noGrad(() => {
      const u = rand([...x.shape], { seed: this.stream });
      // mask = (u >= p) * keepScale, via binarize of (u - p): ±1 (u == p counts as kept), mapped to 0 or keepScale.
      f32Affine(u, 1, -this.p, u);
      f32Hard('binarize', u, u);
      return f32Affine(u, keepScale / 2, keepScale / 2, u);
    });
    return mul(x, mask);
  }

  /** The identity in eval mode: no stage. */
  freezeStage(): null {
    return null;
  }

  summaryMacs(): Macs {
    return { ...NO_MACS };
  }
}
