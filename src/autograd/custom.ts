import { f32Affine } from '../kernels/elementwise.js';
import { checkFloat, checkTensor, describe } from '../tensor/checks.js';
import { collect, trackInScope } from '../tensor/scope.js';
import { Tensor, viewOf } from '../tensor/tensor.js';
import { noGrad, record, willRecord } from './tape.js';

/**
 * A tensor with x's value that the tape treats as a constant: it shares x's
 * memory and no gradient flows through it. `detach` (and `x.detach()`) is an
 * alias: the same function under PyTorch's name.
 */
export function stopGradient(x: Tensor): Tensor {
  checkTensor(x, 'stopGradient', 'x');
  return viewOf(x, x.shape);
}

/** Alias of {@link stopGradient} (PyTorch's name); one implementation. */
export const detach = stopGradient;

export interface CustomGradSpec {
  /**
   * Computes the output from the inputs (runs without recording) and may
   * save tensors for backward with `save(t)`. The tape owns saved tensors
   * (other than the inputs): they live as long as the output when the call is
   * recorded, and are freed at once when it is not.
   */
  forward: (inputs: Tensor[], save: (t: Tensor) => void) => Tensor;
  /** Maps dy to one gradient per input (null where none), each of that input's shape. */
  backward: (dy: Tensor, inputs: Tensor[], saved: Tensor[], output: Tensor) => (Tensor | null)[];
  name?: string;
}

/**
 * Builds an op with a user-declared gradient — the primitive behind every
 * straight-through estimator. Returns a function of the inputs.
 */
export function customGrad(spec: CustomGradSpec): (...inputs: Tensor[]) => Tensor {
  if (spec === null || typeof spec !== 'object' || typeof spec.forward !== 'function' || typeof spec.backward !== 'function') {
    throw new Error(`customGrad: spec must be { forward(inputs, save), backward(dy, inputs, saved, output) }, got ${describe(spec)}`);
  }
  if (spec.name !== undefined && spec.name !== null && typeof spec.name !== 'string') throw new Error(`customGrad: spec.name must be a string, got ${describe(spec.name)}`);
  const name = spec.name ?? 'customGrad';
  return (...inputs: Tensor[]): Tensor => {
    inputs.forEach((t, i) => checkTensor(t, name, `inputs[${i}]`));
    const saved: Tensor[] = [];
    const { result: out, made } = collect(() => noGrad(() => spec.forward(inputs, (t) => saved.push(checkTensor(t, name, 'save(t)')))));
    for (const t of made) trackInScope(t);
    // The tape owns what forward saved (inputs stay the caller's): freed with y, or now if nothing is recorded.
    const owned = [...new Set(saved.filter((s) => !inputs.includes(s)))];
    // A failed call frees what forward made and what it saved.
    const failed = (message: string): Error => {
      for (const t of new Set([...made, ...owned])) t.dispose();
      return new Error(message);
    };
    if (!(out instanceof Tensor)) throw failed(`${name}: forward must return a Tensor, got ${describe(out)}`);
    if (willRecord(inputs) && out.dtype !== 'float32') throw failed(`${name}: forward output must be float32 (gradients are float32), got ${out.dtype}; return out.cast('float32') from forward`);
    let y = out;
    if (inputs.includes(out) || saved.includes(out)) y = viewOf(out, out.shape);
    return record(y, name, inputs, (dy) => {
      const grads = spec.backward(dy, inputs, saved, y);
      if (!Array.isArray(grads) || grads.length !== inputs.length) {
        throw new Error(`${name}: backward must return an array of ${inputs.length} gradients (or nulls), got ${describe(grads)}`);
      }
      return grads.map((g, i) => {
        if (g === null || g === undefined) return null;
        checkFloat(g, name, `backward result [${i}]`);
        const want = inputs[i].shape;
        if (g.shape.length !== want.length || g.shape.some((d, k) => d !== want[k])) {
          throw new Error(`${name}: backward result [${i}] has shape [${g.shape}], expected the input's shape [${want}]`);
        }
        // The tape disposes what backward returns: hand it a fresh tensor.
        if (g === dy || inputs.includes(g) || saved.includes(g)) return copyOf(g);
        return g;
      });
    }, { saved: owned });
  };
}

function copyOf(t: Tensor): Tensor {
  return f32Affine(t, 1, 0);
}
