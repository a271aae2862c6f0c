import { checkNumber, describe } from '../tensor/checks.js';

interface HasLr {
  lr: number;
}

/** Learning-rate schedules: call step() once per epoch (or per iteration, as you define totalSteps). */
export abstract class LRSchedule {
  protected t = 0;
  readonly baseLr: number;

  constructor(protected readonly optimizer: HasLr) {
    const name = this.constructor.name;
    if (optimizer === null || typeof optimizer !== 'object' || !('lr' in optimizer)) {
      throw new Error(`${name}: optimizer must be an optimizer (SGD, Adam, ...) or an object with an lr property, got ${describe(optimizer)}`);
    }
    this.baseLr = checkNumber(optimizer.lr, name, 'optimizer.lr', { min: 0 });
  }

  protected abstract lrAt(t: number): number;

  /** Advances one step and sets the optimizer's lr; returns it. */
  step(): number {
    // The optimizer checks the new lr; only an accepted one advances the schedule.
    this.optimizer.lr = this.lrAt(this.t + 1);
    this.t++;
    return this.optimizer.lr;
  }
}

/** lr = baseLr · gamma^floor(t / stepSize). */
export class StepLR extends LRSchedule {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: HasLr, stepSize: number, gamma: number | null = 0.1) {
    super(optimizer);
    this.stepSize = checkNumber(stepSize, 'StepLR', 'stepSize', { integer: true, min: 1 });
    // gamma > 1 would grow the lr without bound; the usual decays are 0.1 .. 0.9.
    this.gamma = checkNumber(gamma ?? 0.1, 'StepLR', 'gamma', { min: 0, max: 1 });
  }

  protected lrAt(t: number): number {
    return this.baseLr * this.gamma ** Math.floor(t / this.stepSize);
  }
}

/** lr = minLr + (baseLr - minLr)(1 + cos(π t / totalSteps)) / 2, then minLr after totalSteps. */
export class CosineLR extends LRSchedule {
  readonly totalSteps: number;
  readonly minLr: number;

  constructor(optimizer: HasLr, totalSteps: number, minLr: number | null = 0) {
    super(optimizer);
    this.totalSteps = checkNumber(totalSteps, 'CosineLR', 'totalSteps', { integer: true, min: 1 });
    this.minLr = checkNumber(minLr ?? 0, 'CosineLR', 'minLr', { min: 0, max: 3.4028234663852886e38 });
  }

  protected lrAt(t: number): number {
    if (t >= this.totalSteps) return this.minLr;
    return this.minLr + ((this.baseLr - this.minLr) * (1 + Math.cos((Math.PI * t) / this.totalSteps))) / 2;
  }
}
