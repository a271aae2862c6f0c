import { checkNumber } from '../tensor/checks.js';

interface HasLr {
  lr: number;
}

/** Learning-rate schedules: call step() once per epoch (or per iteration, as you define totalSteps). */
export abstract class LRSchedule {
  protected t = 0;
  readonly baseLr: number;

  constructor(protected readonly optimizer: HasLr) {
    this.baseLr = optimizer.lr;
  }

  protected abstract lrAt(t: number): number;

  /** Advances one step and sets the optimizer's lr; returns it. */
  step(): number {
    this.t++;
    this.optimizer.lr = this.lrAt(this.t);
    return this.optimizer.lr;
  }
}

/** lr = baseLr · gamma^floor(t / stepSize). */
export class StepLR extends LRSchedule {
  constructor(optimizer: HasLr, readonly stepSize: number, readonly gamma = 0.1) {
    super(optimizer);
    checkNumber(stepSize, 'StepLR', 'stepSize', { integer: true, min: 1 });
    checkNumber(gamma, 'StepLR', 'gamma', { min: 0 });
  }

  protected lrAt(t: number): number {
    return this.baseLr * this.gamma ** Math.floor(t / this.stepSize);
  }
}

/** lr = minLr + (baseLr - minLr)(1 + cos(π t / totalSteps)) / 2, then minLr after totalSteps. */
export class CosineLR extends LRSchedule {
  constructor(optimizer: HasLr, readonly totalSteps: number, readonly minLr = 0) {
    super(optimizer);
    checkNumber(totalSteps, 'CosineLR', 'totalSteps', { integer: true, min: 1 });
    checkNumber(minLr, 'CosineLR', 'minLr', { min: 0 });
  }

  protected lrAt(t: number): number {
    if (t >= this.totalSteps) return this.minLr;
    return this.minLr + ((this.baseLr - this.minLr) * (1 + Math.cos((Math.PI * t) / this.totalSteps))) / 2;
  }
}
