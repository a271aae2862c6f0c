import { rt } from '../runtime/context.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { zeros } from '../tensor/creation.js';
import { markModified } from '../tensor/derived.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** Base of the optimizers: parameters are updated in place, gradients cleared by zeroGrad(). */
export abstract class Optimizer {
  readonly params: Tensor[];

  constructor(params: Tensor[], op: string) {
    if (!Array.isArray(params) || params.length === 0) throw new Error(`${op}: params must be a non-empty array of tensors`);
    params.forEach((p, i) => {
      checkFloat(p, op, `params[${i}]`);
      if (!p.requiresGrad) throw new Error(`${op}: params[${i}] must have requiresGrad: true`);
    });
    this.params = params.slice();
  }

  /** Frees the parameters' gradients (call before each backward pass). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  abstract step(): void;

  /** Frees the optimizer's state buffers. */
  abstract dispose(): void;
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

/** SGD with optional momentum (v = momentum v + g; p -= lr v) and L2 weight decay. */
export class SGD extends Optimizer {
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  private readonly velocity: Tensor[];

  constructor(params: Tensor[], options: SGDOptions) {
    super(params, 'SGD');
    this.lr = checkNumber(options?.lr, 'SGD', 'lr', { min: 0 });
    this.momentum = checkNumber(options.momentum ?? 0, 'SGD', 'momentum', { min: 0, max: 1 });
    this.weightDecay = checkNumber(options.weightDecay ?? 0, 'SGD', 'weightDecay', { min: 0 });
    // Allocated up front so a training loop's memory is flat from the first step.
    this.velocity = this.momentum > 0 ? this.params.map((p) => keep(zeros([...p.shape]))) : [];
  }

  step(): void {
    const { kernels } = rt();
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (g === null) return;
      if (this.weightDecay > 0) kernels.f32_axpy(g.offset, p.offset, p.size, this.weightDecay);
      if (this.momentum > 0) {
        const v = this.velocity[i];
        kernels.f32_affine(v.offset, v.offset, v.size, this.momentum, 0);
        kernels.f32_axpy(v.offset, g.offset, v.size, 1);
        kernels.f32_axpy(p.offset, v.offset, p.size, -this.lr);
      } else {
        kernels.f32_axpy(p.offset, g.offset, p.size, -this.lr);
      }
      markModified(p);
    });
  }

  dispose(): void {
    for (const v of this.velocity) v.dispose();
  }
}
