import { Module } from '../nn/module.js';
import { crossEntropy, mse } from '../ops/losses.js';
import { describe } from '../tensor/checks.js';
import { tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { accuracy } from './metrics.js';

// What fit, evaluate and predict share: how a model is called, how a batch
// splits into input and target, and how losses and metrics are named.

/** A Module (its forward is called), anything with forward(x), or a function x => output. */
export type ModelLike = Module | { forward(x: any): any } | ((x: any) => any);

/** A loss: 'crossEntropy' (output logits, integer targets), 'mse', or (output, target, batch) => scalar tensor. */
export type LossArg = 'crossEntropy' | 'mse' | ((output: any, target: any, batch: any) => Tensor);

/** A metric: 'accuracy', 'loss' (the loss function's value), or (output, target, batch) => number or scalar tensor. */
export type MetricArg = 'accuracy' | 'loss' | ((output: any, target: any, batch: any) => number | Tensor);

/** ['accuracy', 'loss'], or named metrics { accuracy: 'accuracy', mse: (out, y) => ... }. */
export type MetricsArg = readonly ('accuracy' | 'loss')[] | { readonly [name: string]: MetricArg };

export interface NamedMetric {
  name: string;
  fn: (output: any, target: any, batch: any) => number;
}

export function forwardOf(model: unknown, op: string): (x: unknown) => unknown {
  if (model instanceof Module) return (x) => model.forward(x as Tensor);
  if (typeof model === 'function') return model as (x: unknown) => unknown;
  if (model !== null && typeof model === 'object' && typeof (model as { forward?: unknown }).forward === 'function') {
    const m = model as { forward(x: unknown): unknown };
    return (x) => m.forward(x);
  }
  throw new Error(`${op}: model must be a Module, an object with forward(x), or a function x => output, got ${describe(model)}`);
}

/** A batch as input and target: a tensor is the input; [x, y, ...] and { x, y, ... } give both. */
export function splitBatch(batch: unknown, op: string): { x: unknown; y: unknown } {
  if (batch instanceof Tensor) return { x: batch, y: undefined };
  if (Array.isArray(batch)) return { x: batch[0], y: batch[1] };
  if (batch !== null && typeof batch === 'object' && 'x' in batch) return { x: (batch as { x: unknown }).x, y: (batch as { y?: unknown }).y };
  throw new Error(`${op}: each batch must be a tensor (the input), an array [x, y, ...] or an object { x, y, ... }, got ${describe(batch)}`);
}

/** Samples in a batch: axis 0 of its first tensor. */
export function batchSamples(batch: unknown): number {
  const first = firstTensor(batch, 0);
  return first === null || first.rank === 0 ? 1 : first.shape[0];
}

function firstTensor(v: unknown, depth: number): Tensor | null {
  if (v instanceof Tensor) return v;
  if (depth > 4 || v === null || typeof v !== 'object') return null;
  for (const item of Array.isArray(v) ? v : Object.values(v)) {
    const t = firstTensor(item, depth + 1);
    if (t !== null) return t;
  }
  return null;
}

export function resolveLoss(loss: unknown, op: string): (output: any, target: any, batch: any) => Tensor {
  const check = (t: unknown): Tensor => {
    if (!(t instanceof Tensor) || t.size !== 1 || t.dtype !== 'float32') throw new Error(`${op}: loss must return a float32 tensor with one element, got ${describe(t)}`);
    return t;
  };
  if (loss === 'crossEntropy') {
    return (out, y) => {
      if (!(y instanceof Tensor)) throw new Error(`${op}: loss 'crossEntropy' needs a target tensor (batches [x, y] or { x, y }), got ${describe(y)}`);
      return crossEntropy(out, y);
    };
  }
  if (loss === 'mse') {
    return (out, y) => {
      if (!(y instanceof Tensor)) throw new Error(`${op}: loss 'mse' needs a target tensor (batches [x, y] or { x, y }), got ${describe(y)}`);
      return mse(out, y);
    };
  }
  if (typeof loss === 'function') return (out, y, batch) => check(loss(out, y, batch));
  throw new Error(`${op}: loss must be 'crossEntropy', 'mse' or a function (output, target, batch) => scalar tensor, got ${describe(loss)}`);
}

/** Metrics by name; 'loss' needs the loss function and is returned as null (the caller reports the loss itself). */
export function resolveMetrics(metrics: unknown, op: string, arg = 'metrics'): (NamedMetric | 'loss')[] {
  if (metrics === undefined) return [];
  let entries: [string, unknown][];
  if (Array.isArray(metrics)) entries = metrics.map((m) => [typeof m === 'string' ? m : '', m]);
  else if (metrics !== null && typeof metrics === 'object' && Object.getPrototypeOf(metrics) === Object.prototype) entries = Object.entries(metrics);
  else throw new Error(`${op}: ${arg} must be an array like ['accuracy', 'loss'] or an object of named metrics, got ${describe(metrics)}`);
  return entries.map(([name, m], i) => {
    if (Array.isArray(metrics) && m !== 'loss' && m !== 'accuracy') {
      throw new Error(`${op}: ${arg}[${i}] must be 'accuracy' or 'loss' (name custom metrics: { name: fn }), got ${describe(m)}`);
    }
    if (m === 'loss') return 'loss';
    if (m === 'accuracy') return { name, fn: (out, y) => accuracy(out, y) };
    if (typeof m === 'function') {
      return {
        name,
        fn: (out, y, batch) => {
          const v = m(out, y, batch);
          const n = v instanceof Tensor ? v.item() : v;
          if (typeof n !== 'number') throw new Error(`${op}: metric "${name}" must return a number or a one-element tensor, got ${describe(v)}`);
          return n;
        },
      };
    }
    throw new Error(`${op}: ${arg}${Array.isArray(metrics) ? '' : `.${name}`} must be 'accuracy', 'loss' or a function (output, target, batch) => number, got ${describe(m)}`);
  });
}

/** Runs fn with a Module in eval mode, restoring its mode after. */
export function inEvalMode<R>(model: unknown, fn: () => R): R {
  if (!(model instanceof Module)) return fn();
  const was = model.training;
  model.eval();
  try {
    return fn();
  } finally {
    model.train(was);
  }
}

/**
 * Runs step(batch) on each batch inside one tidy per batch that also covers
 * fetching it, so tensors an iterable creates for a batch (a generator's, a
 * DataLoader's) are freed with the step, while tensors it did not create
 * (sources, pre-made batches) are left alone. Then after(result, batch) runs
 * outside the tidy; returning false from it ends the loop.
 */
export function forEachBatch<R>(data: Iterable<unknown>, step: (batch: unknown) => R, after: (result: R) => boolean | void): void {
  const it = data[Symbol.iterator]();
  let finished = false;
  try {
    for (;;) {
      const r = tidy(() => {
        const next = it.next();
        return next.done ? DONE : { value: step(next.value) };
      });
      if (r === DONE) {
        finished = true;
        return;
      }
      if (after(r.value) === false) return;
    }
  } finally {
    if (!finished) it.return?.();
  }
}

const DONE = Symbol('done');

/** Iterates batches, checking the argument is iterable. */
export function batchesOf(data: unknown, op: string, arg: string): Iterable<unknown> {
  if (data === null || typeof data !== 'object' || typeof (data as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
    throw new Error(`${op}: ${arg} must be a DataLoader (or another iterable of batches), got ${describe(data)}`);
  }
  return data as Iterable<unknown>;
}
