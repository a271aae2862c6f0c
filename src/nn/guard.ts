import { checkDType, checkNumber, describe, F32_MAX } from '../tensor/checks.js';
import { rawF32, rawI32, Tensor } from '../tensor/tensor.js';

// Argument checks shared by the layers, optimizers and schedules: each runs
// before anything is allocated or written, so a rejected call changes nothing.

/** Largest finite float32: hyperparameters beyond it would reach the kernels as Infinity. */
export { F32_MAX };

/** An optional seed: omitted (or null) means "next layer seed"; otherwise an integer in [0, 2^32). */
export function seedOption(seed: unknown, op: string): number | undefined {
  if (seed === undefined || seed === null) return undefined;
  return checkNumber(seed, op, 'seed', { integer: true, min: 0, max: 2 ** 32 - 1 });
}

/** Throws naming the first element of a float32 tensor that is NaN or ±Infinity. */
export function checkFinite(x: Tensor, op: string, arg: string, fix: string): void {
  const v = rawF32(x);
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw new Error(`${op}: ${arg} must be finite, but element ${i} is ${v[i]}; ${fix}`);
  }
}

/** A tensor argument of a forward pass: a live Tensor, named in the error otherwise. */
export function checkInputTensor(x: unknown, op: string, arg = 'x'): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${op}.forward: ${arg} must be a Tensor, got ${describe(x)}; wrap data with tensor(...)`);
  if (x.disposed) throw new Error(`${op}.forward: ${arg} (tensor #${x.id}) was disposed and cannot be used`);
  return x;
}

/** loadStateDict's check of a value a layer depends on: finite, and at least `min` when given. */
export function checkStateRange(v: Tensor, op: string, name: string, min?: number): void {
  const data = rawF32(v);
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (!Number.isFinite(x) || (min !== undefined && x < min)) {
      throw new Error(`loadStateDict: state["${name}"] element ${i} is ${x}, but ${op} needs finite values${min !== undefined ? ` >= ${min}` : ''}; the model was left unchanged`);
    }
  }
}

/** Checks int32 code indices [...] of a quantizer lie in [0, codebookSize); `range()` words that range in the error. */
export function checkCodeIndices(indices: Tensor, op: string, codebookSize: number, range: () => string): void {
  checkDType(indices, op, 'indices', 'int32');
  if (indices.rank >= 8) throw new Error(`${op}: indices has rank ${indices.rank}; the codes add an axis and at most 8 are supported`);
  const iv = rawI32(indices);
  for (let n = 0; n < iv.length; n++) {
    if (!(iv[n] >= 0 && iv[n] < codebookSize)) throw new Error(`${op}: indices[${n}] = ${iv[n]} is outside ${range()}`);
  }
}
