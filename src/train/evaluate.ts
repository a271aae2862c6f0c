import { noGrad } from '../autograd/tape.js';
import { DataLoader } from '../data/loader.js';
import { checkNumber, describe } from '../tensor/checks.js';
import { tensor } from '../tensor/creation.js';
import { readOptions } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import type { AnyTypedArray } from '../tensor/dtypes.js';
import { Tensor } from '../tensor/tensor.js';
import { batchesOf, batchSamples, forEachBatch, forwardOf, inEvalMode, resolveLoss, resolveMetrics, splitBatch, type LossArg, type MetricsArg, type ModelLike } from './common.js';

export interface EvaluateOptions {
  /** Needed for the 'loss' metric. */
  loss?: LossArg;
  /** Default ['loss'] when a loss is given. */
  metrics?: MetricsArg;
}

/** Sample-weighted means of the metrics over every batch, and the number of samples. */
export type EvaluateResult = { samples: number } & Record<string, number>;

/**
 * Runs the model over every batch (a Module in eval mode, without the tape)
 * and returns each metric's sample-weighted mean. Each batch (its fetching
 * included) runs in its own tidy, so memory stays flat however many batches there are.
 */
export function evaluate(model: ModelLike, batches: Iterable<unknown>, evaluateOptions: EvaluateOptions = {}): EvaluateResult {
  const op = 'evaluate';
  const forward = forwardOf(model, op);
  const data = batchesOf(batches, op, 'batches');
  const options = readOptions<EvaluateOptions>(evaluateOptions, op);
  const lossFn = options.loss === undefined ? null : resolveLoss(options.loss, op);
  const metrics = resolveMetrics(options.metrics ?? (lossFn ? ['loss'] : undefined), op);
  if (metrics.length === 0) throw new Error(`${op}: nothing to compute: give metrics (e.g. ['accuracy']) or a loss`);
  if (metrics.includes('loss') && lossFn === null) throw new Error(`${op}: the 'loss' metric needs options.loss (e.g. 'crossEntropy')`);
  const names = metrics.map((m) => (m === 'loss' ? 'loss' : m.name));
  return inEvalMode(model, () => evaluateBatches(forward, data, lossFn, metrics, names, op));
}

/** evaluate's loop, also used by fit for validation (the model is already in eval mode). */
export function evaluateBatches(
  forward: (x: unknown) => unknown,
  data: Iterable<unknown>,
  lossFn: ((out: any, y: any, batch: any) => Tensor) | null,
  metrics: ReturnType<typeof resolveMetrics>,
  names: string[],
  op: string,
): EvaluateResult {
  const sums = new Float64Array(metrics.length);
  let samples = 0;
  forEachBatch(data, (batch) => noGrad(() => {
    const { x, y } = splitBatch(batch, op);
    const out = forward(x);
    return { values: metrics.map((m) => (m === 'loss' ? lossFn!(out, y, batch).item() : m.fn(out, y, batch))), n: batchSamples(batch) };
  }), ({ values, n }) => {
    values.forEach((v, i) => (sums[i] += v * n));
    samples += n;
  });
  const result: EvaluateResult = { samples } as EvaluateResult;
  names.forEach((name, i) => (result[name] = samples === 0 ? NaN : sums[i] / samples));
  return result;
}

export interface PredictOptions {
  /** Rows per forward pass when `data` is a tensor (default 256). */
  batchSize?: number;
}

/**
 * The model's outputs over a tensor (in chunks of batchSize rows) or over a
 * DataLoader's batches, joined along axis 0 into one tensor that the caller
 * owns. The model runs in eval mode without the tape; each chunk's
 * intermediates are freed as it goes.
 */
export function predict(model: ModelLike, data: Tensor | Iterable<unknown>, predictOptions: PredictOptions = {}): Tensor {
  const op = 'predict';
  const forward = forwardOf(model, op);
  const options = readOptions<PredictOptions>(predictOptions, op);
  let batches: Iterable<unknown>;
  if (data instanceof Tensor) {
    const batchSize = checkNumber(options.batchSize ?? 256, op, 'batchSize', { integer: true, min: 1 });
    batches = new DataLoader(data, { batchSize });
  } else {
    if (options.batchSize !== undefined) throw new Error(`${op}: batchSize is only used when data is a tensor (a DataLoader has its own)`);
    batches = batchesOf(data, op, 'data');
  }
  return inEvalMode(model, () => {
    const parts: AnyTypedArray[] = [];
    let rowShape: readonly number[] | null = null;
    let dtype: Tensor['dtype'] = 'float32';
    let rows = 0;
    const outputOf = (x: unknown): Tensor => {
      const out = forward(x);
      if (!(out instanceof Tensor) || out.rank === 0) throw new Error(`${op}: the model must return one tensor with a batch axis, got ${describe(out)}`);
      return out;
    };
    forEachBatch(batches, (batch) => noGrad(() => {
      const { x } = splitBatch(batch, op);
      const out = outputOf(x);
      const shape = out.shape.slice(1);
      if (rowShape === null) {
        rowShape = shape;
        dtype = out.dtype;
      } else if (out.dtype !== dtype || shape.length !== rowShape.length || shape.some((d, i) => d !== rowShape![i])) {
        throw new Error(`${op}: the model returned ${out.dtype} [${out.shape}] for one batch and ${dtype} [?, ${rowShape}] for an earlier one`);
      }
      parts.push(out.dataSync());
      rows += out.shape[0];
    }), () => {});
    // A tensor of 0 rows makes no batch: one forward of it gives the output's row shape and dtype ([0, classes], not [0]).
    if (rowShape === null && data instanceof Tensor) {
      tidy(() => noGrad(() => {
        const out = outputOf(data);
        rowShape = out.shape.slice(1);
        dtype = out.dtype;
      }));
    }
    const shape = [rows, ...(rowShape ?? [])];
    const total = parts.reduce((n, p) => n + p.length, 0);
    const flat = dtype === 'float32' ? new Float32Array(total) : dtype === 'int32' ? new Int32Array(total) : dtype === 'int8' ? new Int8Array(total) : new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      flat.set(p, at);
      at += p.length;
    }
    return tensor(flat, shape, { dtype });
  });
}
