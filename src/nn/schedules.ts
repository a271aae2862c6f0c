import { checkNumber, describe } from '../tensor/checks.js';
import { checkRecord, type ScheduleState } from './state.js';

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

  /** The state for a checkpoint (JSON): the class, steps taken, base lr and hyperparameters. */
  stateDict(): ScheduleState {
    return { kind: this.constructor.name, t: this.t, baseLr: this.baseLr, ...this.hyperparameters() };
  }

  /**
   * Restores a state from stateDict() of the same class (the optimizer's lr
   * is restored with the optimizer's state). A rejected state changes nothing.
   */
  loadStateDict(state: ScheduleState): void {
    this.planLoad(state, `${this.constructor.name}.loadStateDict`, 'state')();
  }

  /** Validates a whole state and returns what writes it (loadCheckpoint checks everything before writing anything). */
  protected planLoad(state: unknown, op: string, path: string): () => void {
    const name = this.constructor.name;
    const st = checkRecord(state, ['kind', 't', 'baseLr', ...Object.keys(this.hyperparameters())], op, path);
    if (st.kind !== name) throw new Error(`${op}: ${path} is the state of ${typeof st.kind === 'string' ? st.kind : describe(st.kind)}, not of ${name}`);
    const t = checkNumber(st.t, op, `${path}.t`, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
    const baseLr = checkNumber(st.baseLr, op, `${path}.baseLr`, { min: 0, max: 3.4028234663852886e38 });
    this.checkHyperparameters(st, op, path);
    return () => {
      // baseLr and the hyperparameters are readonly to users; a load replaces them as construction set them.
      Object.assign(this, { t, baseLr }, Object.fromEntries(Object.keys(this.hyperparameters()).map((k) => [k, st[k]])));
    };
  }

  /** The schedule's hyperparameters by name (numbers). */
  protected hyperparameters(): Record<string, number> {
    return {};
  }

  /** Throws (naming `${path}.<name>`) unless the hyperparameters in `state` are valid. */
  protected checkHyperparameters(_state: Record<string, unknown>, _op: string, _path: string): void {}
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

  protected override hyperparameters(): Record<string, number> {
    return { stepSize: this.stepSize, gamma: this.gamma };
  }

  protected override checkHyperparameters(state: Record<string, unknown>, op: string, path: string): void {
    checkNumber(state.stepSize, op, `${path}.stepSize`, { integer: true, min: 1 });
    checkNumber(state.gamma, op, `${path}.gamma`, { min: 0, max: 1 });
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

  protected override hyperparameters(): Record<string, number> {
    return { totalSteps: this.totalSteps, minLr: this.minLr };
  }

  protected override checkHyperparameters(state: Record<string, unknown>, op: string, path: string): void {
    checkNumber(state.totalSteps, op, `${path}.totalSteps`, { integer: true, min: 1 });
    checkNumber(state.minLr, op, `${path}.minLr`, { min: 0, max: 3.4028234663852886e38 });
  }
}


/** Checks a schedule's state completely and returns what writes it (for loadCheckpoint). */
export function planScheduleLoad(schedule: LRSchedule, state: unknown, op: string, path: string): () => void {
  return schedule['planLoad'](state, op, path);
}
