import { f32View } from '../runtime/views.js';
import { checkNumber, describe } from '../tensor/checks.js';
import { tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';

// Argument checks shared by the layers, optimizers and schedules: each runs
// before anything is allocated or written, so a rejected call changes nothing.

/** Largest finite float32: hyperparameters beyond it would reach the kernels as Infinity. */
export const F32_MAX = 3.4028234663852886e38;

/** An optional seed: omitted (or null) means "next layer seed"; otherwise an integer in [0, 2^32). */
export function seedOption(seed: unknown, op: string): number | undefined {
  if (seed === undefined || seed === null) return undefined;
  return checkNumber(seed, op, 'seed', { integer: true, min: 0, max: 2 ** 32 - 1 });
}

/** Throws naming the first element of a float32 tensor that is NaN or ±Infinity. */
export function checkFinite(x: Tensor, op: string, arg: string, fix: string): void {
  const v = f32View(x.offset, x.size);
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
  const data = f32View(v.offset, v.size);
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (!Number.isFinite(x) || (min !== undefined && x < min)) {
      throw new Error(`loadStateDict: state["${name}"] element ${i} is ${x}, but ${op} needs finite values${min !== undefined ? ` >= ${min}` : ''}; the model was left unchanged`);
    }
  }
}

/**
 * Runs a layer's forward pass so that it leaves alive only its output: the
 * intermediates the tape needs for backward are tied to the output (freed
 * with it), the rest are freed at once, and if fn throws everything it made is
 * freed, as are the tensors in `made` (made by the layer before fn). `inputs` are the caller's tensors: they and their history are never
 * touched (nor are kept tensors: parameters and buffers).
 */
export function layerOutput(inputs: readonly Tensor[], fn: () => Tensor, made: readonly Tensor[] = []): Tensor {
  let out!: Tensor;
  let onTape: Tensor[];
  try {
    onTape = tidy(() => {
      out = fn();
      // An input passed through unchanged (an empty Sequential) keeps its own history.
      return inputs.includes(out) ? [out] : [out, ...tapeTensors(out, new Set(inputs))];
    });
  } catch (err) {
    for (const t of made) t.dispose();
    throw err;
  }
  for (const t of onTape) if (t !== out && !t.kept) out.attach(t);
  // Tensors the layer made before calling fn: tied to the output when the tape reads them, else freed.
  for (const t of made) if (t !== out && !onTape.includes(t)) t.dispose();
  return out;
}

/** The tensors the tape of `out` reads, stopping at `stop` and at kept tensors (they are not the layer's to free). */
function tapeTensors(out: Tensor, stop: Set<Tensor>): Tensor[] {
  const found: Tensor[] = [];
  const seen = new Set<Tensor>([out]);
  const stack = [out];
  while (stack.length > 0) {
    const t = stack.pop()!;
    for (const input of t.node?.inputs ?? []) {
      if (seen.has(input) || stop.has(input) || input.kept) continue;
      seen.add(input);
      found.push(input);
      stack.push(input);
    }
  }
  return found;
}
