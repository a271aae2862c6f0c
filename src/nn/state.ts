// Shared checks for the state dicts of optimizers and schedules (and the
// checkpoint files that carry them): plain JSON values, validated completely
// before anything is written.
import { checkTensor, describe } from '../tensor/checks.js';
import { Tensor } from '../tensor/tensor.js';

/** A JSON value: what the non-tensor part of a state dict may hold. */
export type StateValue = null | boolean | number | string | StateValue[] | { [key: string]: StateValue };

/** An optimizer's state: its state buffers by name, and JSON-able values (learning rates, hyperparameters, step counts). */
export interface OptimizerState {
  /** The optimizer's class ("Adam", "Chain", ...); a state loads only into the same class. */
  kind: string;
  /** The state buffers themselves (not copies), named "<parameter index>.<buffer>" (Chain: "<optimizer index>.<...>"). */
  tensors: Record<string, Tensor>;
  values: Record<string, StateValue>;
}

/** A learning-rate schedule's state: its class, step count, base lr and hyperparameters (all JSON). */
export interface ScheduleState {
  kind: string;
  t: number;
  baseLr: number;
  [hyperparameter: string]: StateValue;
}

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

export function own(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** Throws unless `x` is a plain object with exactly the keys `keys` (naming the missing and unexpected ones). */
export function checkRecord(x: unknown, keys: readonly string[], op: string, path: string): Record<string, unknown> {
  if (!isPlainObject(x)) throw new Error(`${op}: ${path} must be a plain object, got ${describe(x)}`);
  const missing = keys.filter((k) => !own(x, k));
  const unexpected = Object.keys(x).filter((k) => !keys.includes(k));
  if (missing.length || unexpected.length) {
    const parts = [missing.length ? `missing ${missing.map((k) => JSON.stringify(k)).join(', ')}` : '', unexpected.length ? `unexpected ${unexpected.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}${unexpected.length > 5 ? ', ...' : ''}` : ''];
    throw new Error(`${op}: ${path} has the wrong entries: ${parts.filter(Boolean).join('; ')}`);
  }
  return x;
}

/** Throws unless `x` is an array of `length` items. */
export function checkArray(x: unknown, length: number, op: string, path: string): unknown[] {
  if (!Array.isArray(x)) throw new Error(`${op}: ${path} must be an array, got ${describe(x)}`);
  if (x.length !== length) throw new Error(`${op}: ${path} has ${x.length} entries, expected ${length}`);
  return x;
}

export function sameShape(a: readonly unknown[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A float32 state tensor of the given shape with finite values; returns a copy of its values. */
export function checkStateTensor(x: unknown, shape: readonly number[], op: string, path: string): Float32Array {
  const t = checkTensor(x, op, path);
  if (t.dtype !== 'float32' || !sameShape(t.shape, shape)) throw new Error(`${op}: ${path} is ${t.dtype} [${t.shape}], expected float32 [${shape}] like its parameter${t.dtype !== 'float32' ? "; convert it with .cast('float32')" : ''}`);
  const data = t.dataSync() as Float32Array;
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${op}: ${path} holds ${data[bad]} at index ${bad}; optimizer state must be finite`);
  return data;
}

/** Checks that `x` is JSON (null, booleans, finite numbers, strings, arrays, plain objects; no cycles), at most `maxDepth` deep. */
export function checkJson(x: unknown, op: string, path: string, maxDepth = 64): StateValue {
  const walk = (v: unknown, at: string, depth: number): void => {
    if (depth > maxDepth) throw new Error(`${op}: ${path} is nested more than ${maxDepth} levels deep`);
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new Error(`${op}: ${at} is ${v}; JSON holds finite numbers only`);
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, `${at}[${i}]`, depth + 1));
      return;
    }
    if (isPlainObject(v)) {
      for (const [k, item] of Object.entries(v)) walk(item, `${at}[${JSON.stringify(k)}]`, depth + 1);
      return;
    }
    throw new Error(`${op}: ${at} must be JSON (null, a boolean, a finite number, a string, an array or a plain object), got ${describe(v)}`);
  };
  walk(x, path, 0);
  return x as StateValue;
}
