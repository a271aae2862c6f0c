import { noGrad } from '../autograd/tape.js';
import { clipGradNorm } from '../nn/clip-grad.js';
import { Module } from '../nn/module.js';
import { checkNumber, describe } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import { Tensor } from '../tensor/tensor.js';
import { batchesOf, batchSamples, forEachBatch, forwardOf, inEvalMode, resolveLoss, resolveMetrics, splitBatch, type LossArg, type MetricsArg, type ModelLike, type NamedMetric } from './common.js';
import { evaluateBatches } from './evaluate.js';
import { defaultWriter, ProgressBar, type ProgressWriter } from './progress.js';

/** What fit() needs of an optimizer (every sg.optim optimizer and Chain have it). */
export interface OptimizerLike {
  step(): void;
  zeroGrad(): void;
  readonly params?: Tensor[];
}

export interface StepInfo {
  epoch: number;
  /** Step within the epoch, from 1. */
  step: number;
  /** Steps in this epoch (the loader's length). */
  steps: number;
  /** Steps since fit() started, from 1. */
  globalStep: number;
  loss: number;
  /** This batch's training metrics. */
  metrics: Record<string, number>;
  /** Samples in this batch. */
  samples: number;
  /** The total gradient norm before clipping, when clipGradNorm is set. */
  gradNorm?: number;
}

export interface EpochLog {
  epoch: number;
  steps: number;
  samples: number;
  /** Sample-weighted mean training loss of the epoch. */
  loss: number;
  /** Sample-weighted means of the training metrics. */
  metrics: Record<string, number>;
  /** Validation metrics at the end of the epoch (null without validation). */
  validation: Record<string, number> | null;
  /** Wall time of the training steps (data loading included, validation excluded). */
  trainSeconds: number;
  /** Wall time of the epoch, validation included. */
  seconds: number;
  samplesPerSecond: number;
}

export interface History {
  epochs: EpochLog[];
  /** Per-epoch training loss. */
  loss: number[];
  /** Per-epoch training metrics by name. */
  metrics: Record<string, number[]>;
  /** Per-epoch validation metrics by name. */
  validation: Record<string, number[]>;
  steps: number;
  samples: number;
  trainSeconds: number;
  seconds: number;
  /** Training samples per second of training time. */
  samplesPerSecond: number;
  /** True when onStep or onEpoch returned false. */
  stopped: boolean;
}

export interface FitOptions {
  optimizer: OptimizerLike;
  /** 'crossEntropy', 'mse', or (output, target, batch) => scalar tensor. */
  loss: LossArg;
  /** Default 1. */
  epochs?: number;
  /** Training metrics (the loss is always reported), e.g. ['accuracy']. */
  metrics?: MetricsArg;
  /** Batches evaluated after each epoch (a Module in eval mode, without the tape). */
  validation?: Iterable<unknown>;
  /** Validation metrics; default: 'loss' and the training metrics. */
  validationMetrics?: MetricsArg;
  /** Something with step() called after every optimizer step (e.g. optim.CosineLR over epochs × loader.length). */
  schedule?: { step(): unknown };
  /** Clip the gradients to this total L2 norm before each step (optim.clipGradNorm). */
  clipGradNorm?: number;
  /** After every step; returning false stops training: the epoch ends there (its validation and log are still made). */
  onStep?: (info: StepInfo) => unknown;
  /** After every epoch; returning false stops training. */
  onEpoch?: (log: EpochLog) => unknown;
  /** true (default): a bar on a terminal, else a line per epoch; false: silent; or a writer. */
  progress?: boolean | ProgressWriter;
}

const OPTION_NAMES = ['optimizer', 'loss', 'epochs', 'metrics', 'validation', 'validationMetrics', 'schedule', 'clipGradNorm', 'onStep', 'onEpoch', 'progress'];

const now = (): number => globalThis.performance?.now() ?? Date.now();

/**
 * Trains `model` on the batches of `loader` (a DataLoader, or any iterable of
 * batches, iterated once per epoch) and returns the history. Each step runs in
 * its own tidy, which also covers fetching the batch (tensors the iterable
 * creates for it are freed with the step): forward,
 * loss, zeroGrad, backward, optional gradient clipping, optimizer step,
 * schedule step, metrics; only numbers leave it, so memory stays flat. A
 * Module is put in train mode for the steps and in eval mode for validation.
 * A NaN or infinite loss stops with an error before the optimizer step. The
 * parameters' gradients are freed at the end (optimizer.zeroGrad()).
 */
export function fit(model: ModelLike, loader: Iterable<unknown>, fitOptions: FitOptions): History {
  const op = 'fit';
  const forward = forwardOf(model, op);
  const data = batchesOf(loader, op, 'loader');
  const options = readOptions<FitOptions>(fitOptions, op);
  for (const k of Object.keys(options)) {
    if (!OPTION_NAMES.includes(k)) throw new Error(`${op}: unknown option "${k}" (known: ${OPTION_NAMES.join(', ')})`);
  }
  const { optimizer } = options;
  if (optimizer === null || typeof optimizer !== 'object' || typeof optimizer.step !== 'function' || typeof optimizer.zeroGrad !== 'function') {
    throw new Error(`${op}: optimizer must be an optimizer (e.g. new sg.optim.Adam(model.parameters(), { lr: 1e-3 })), got ${describe(optimizer)}`);
  }
  if (options.loss === undefined) throw new Error(`${op}: loss is required ('crossEntropy', 'mse' or a function (output, target, batch) => scalar tensor)`);
  const lossFn = resolveLoss(options.loss, op);
  const epochs = checkNumber(options.epochs ?? 1, op, 'epochs', { integer: true, min: 0 });
  const metrics = resolveMetrics(options.metrics, op).filter((m): m is NamedMetric => m !== 'loss');
  const validation = options.validation === undefined ? null : batchesOf(options.validation, op, 'validation');
  const validationMetrics = resolveMetrics(options.validationMetrics ?? ['loss', ...metrics.map((m) => m.name)].reduce<Record<string, unknown>>((acc, n) => {
    acc[n] = n === 'loss' ? 'loss' : metrics.find((m) => m.name === n)!.fn;
    return acc;
  }, {}), op, 'validationMetrics');
  const schedule = options.schedule;
  if (schedule !== undefined && (schedule === null || typeof schedule.step !== 'function')) throw new Error(`${op}: schedule must have a step() method (e.g. new sg.optim.CosineLR(optimizer, steps)), got ${describe(schedule)}`);
  const maxNorm = options.clipGradNorm === undefined ? undefined : checkNumber(options.clipGradNorm, op, 'clipGradNorm', { min: 0 });
  const clipParams = maxNorm === undefined ? [] : parametersOf(model, optimizer, op);
  for (const name of ['onStep', 'onEpoch'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw new Error(`${op}: ${name} must be a function, got ${describe(options[name])}`);
  }
  const progress = options.progress ?? true;
  let writer: ProgressWriter | null;
  if (progress === true) writer = defaultWriter();
  else if (progress === false) writer = null;
  else if (progress !== null && typeof progress === 'object' && typeof progress.write === 'function') writer = progress;
  else throw new Error(`${op}: progress must be true, false or a writer { write(text), isTTY? }, got ${describe(progress)}`);
  const bar = writer === null ? null : new ProgressBar(writer, epochs, now);
  const declaredLength = (loader as { length?: unknown }).length;
  const stepsPerEpoch = typeof declaredLength === 'number' ? declaredLength : NaN;

  const history: History = { epochs: [], loss: [], metrics: {}, validation: {}, steps: 0, samples: 0, trainSeconds: 0, seconds: 0, samplesPerSecond: 0, stopped: false };
  for (const m of metrics) history.metrics[m.name] = [];
  const start = now();
  for (let epoch = 1; epoch <= epochs && !history.stopped; epoch++) {
    const t0 = now();
    if (model instanceof Module) model.train();
    let steps = 0;
    let samples = 0;
    let lossSum = 0;
    const sums = new Float64Array(metrics.length);
    forEachBatch(data, (batch) => {
      const step = steps + 1;
      const { x, y } = splitBatch(batch, op);
      const out = forward(x);
      const loss = lossFn(out, y, batch);
      const value = loss.item();
      if (!Number.isFinite(value)) {
        throw new Error(`${op}: the loss is ${value} at epoch ${epoch}, step ${step} (lower the learning rate, or set clipGradNorm)`);
      }
      optimizer.zeroGrad();
      loss.backward();
      const gradNorm = maxNorm === undefined ? undefined : clipGradNorm(clipParams, maxNorm);
      optimizer.step();
      schedule?.step();
      const values = noGrad(() => metrics.map((m) => m.fn(out, y, batch)));
      return { value, values, gradNorm, n: batchSamples(batch) };
    }, (r) => {
      steps++;
      samples += r.n;
      lossSum += r.value * r.n;
      r.values.forEach((v, i) => (sums[i] += v * r.n));
      const elapsed = (now() - t0) / 1000;
      const total = Number.isFinite(stepsPerEpoch) ? stepsPerEpoch : steps;
      bar?.step(epoch, steps, total, samples / Math.max(elapsed, 1e-9), lossSum / samples, (elapsed / steps) * (total - steps));
      const info: StepInfo = {
        epoch, step: steps, steps: total, globalStep: history.steps + steps, loss: r.value,
        metrics: Object.fromEntries(metrics.map((m, i) => [m.name, r.values[i]])), samples: r.n,
      };
      if (r.gradNorm !== undefined) info.gradNorm = r.gradNorm;
      if (options.onStep?.(info) === false) {
        history.stopped = true;
        return false;
      }
    });
    const trainSeconds = (now() - t0) / 1000;
    const validationResult = validation === null ? null : inEvalMode(model, () => {
      const { samples: _, ...rest } = evaluateBatches(forward, validation, lossFn, validationMetrics, validationMetrics.map((m) => (m === 'loss' ? 'loss' : m.name)), op);
      return rest as Record<string, number>;
    });
    const log: EpochLog = {
      epoch,
      steps,
      samples,
      loss: samples === 0 ? NaN : lossSum / samples,
      metrics: Object.fromEntries(metrics.map((m, i) => [m.name, samples === 0 ? NaN : sums[i] / samples])),
      validation: validationResult,
      trainSeconds,
      seconds: (now() - t0) / 1000,
      samplesPerSecond: samples / Math.max(trainSeconds, 1e-9),
    };
    history.epochs.push(log);
    history.loss.push(log.loss);
    for (const m of metrics) history.metrics[m.name].push(log.metrics[m.name]);
    if (validationResult !== null) for (const [k, v] of Object.entries(validationResult)) (history.validation[k] ??= []).push(v);
    history.steps += steps;
    history.samples += samples;
    history.trainSeconds += trainSeconds;
    bar?.epochEnd(epochLine(log, epochs));
    if (options.onEpoch?.(log) === false) history.stopped = true;
  }
  // The gradients of the last step are no use to the caller: free them, so fit leaves memory as it found it.
  optimizer.zeroGrad();
  history.seconds = (now() - start) / 1000;
  history.samplesPerSecond = history.samples / Math.max(history.trainSeconds, 1e-9);
  return history;
}

/** The parameters gradient clipping covers: the optimizer's, else the model's. */
function parametersOf(model: unknown, optimizer: OptimizerLike, op: string): Tensor[] {
  if (Array.isArray(optimizer.params)) return optimizer.params;
  const chained = (optimizer as { optimizers?: OptimizerLike[] }).optimizers;
  if (Array.isArray(chained) && chained.every((o) => Array.isArray(o.params))) return chained.flatMap((o) => o.params!);
  if (model instanceof Module) return model.parameters();
  throw new Error(`${op}: clipGradNorm needs the parameters: use an sg.optim optimizer, or a Module as the model`);
}

function formatMetric(name: string, v: number): string {
  return /accuracy/i.test(name) ? `${(100 * v).toFixed(2)}%` : v.toFixed(4);
}

/** "epoch 2/5  loss 0.1234  accuracy 96.10%  val loss 0.1100  val accuracy 96.80%  5120 samples/s  25.0 ms/step  12.3 s" */
export function epochLine(log: EpochLog, epochs: number): string {
  const parts = [`epoch ${log.epoch}/${epochs}`, `loss ${log.loss.toFixed(4)}`];
  for (const [k, v] of Object.entries(log.metrics)) parts.push(`${k} ${formatMetric(k, v)}`);
  for (const [k, v] of Object.entries(log.validation ?? {})) parts.push(`val ${k} ${formatMetric(k, v)}`);
  parts.push(`${Math.round(log.samplesPerSecond)} samples/s`);
  if (log.steps > 0) parts.push(`${((1000 * log.trainSeconds) / log.steps).toFixed(1)} ms/step`);
  parts.push(`${log.seconds.toFixed(1)} s`);
  return parts.join('  ');
}
