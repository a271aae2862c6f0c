import { ones } from '../tensor/creation.js';
import { collect, disposeOnThrow, trackInScope, untrack } from '../tensor/scope.js';
import { type GradNode, nextTensorId, storageOf, Tensor, viewOf } from '../tensor/tensor.js';
import { checkFloat, describe } from '../tensor/checks.js';
import { accumulate } from './accumulate.js';

/**
 * Define-by-run tape. An op that has an input needing a gradient attaches a
 * node {name, inputs, backward, saved} to its output; backward() walks the
 * nodes in reverse topological order (iteratively: deep graphs would overflow
 * the JS stack) and accumulates gradients with +=. Saved tensors have one
 * owner, the tape: they are freed with the output whose node holds them.
 */
let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording anything on the tape. */
export function noGrad<R>(fn: () => R): R {
  if (typeof fn !== 'function') throw new Error(`noGrad: fn must be a function, got ${describe(fn)}`);
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

export interface RecordOptions {
  /**
   * Tensors the op made for its backward rule (not its inputs, not `out`).
   * The tape owns them: when the node is recorded they live exactly as long
   * as `out` (no tidy() scope frees them; disposing `out` does); when it is
   * not, they are disposed at once.
   */
  saved?: readonly Tensor[];
}

/** True when an op on these inputs would be recorded (recording is on and an input needs a gradient). */
export function willRecord(inputs: readonly Tensor[]): boolean {
  return gradEnabled && inputs.some((t) => t.requiresGrad);
}

/**
 * Attaches a tape node to `out` when recording is on and an input needs a
 * gradient; takes ownership of `options.saved` either way (see RecordOptions).
 */
export function record(out: Tensor, name: string, inputs: readonly Tensor[], backward: GradNode['backward'], options: RecordOptions = {}): Tensor {
  const saved = options.saved ?? [];
  for (const t of saved) {
    if (t === out || inputs.includes(t)) throw new Error(`internal: ${name} saves its output or an input; save only tensors the tape may free`);
  }
  if (!willRecord(inputs)) {
    for (const t of saved) t.dispose();
    return out;
  }
  for (const t of saved) untrack(t);
  out.requiresGrad = true;
  out.node = { name, inputs, backward, saved: [...saved] };
  return out;
}

/**
 * Hands intermediates an already-recorded output's backward reads to its node
 * (freed with the output), or frees them now when the output was not recorded:
 * for ops with several outputs, which composite() cannot wrap (ste.vq).
 */
export function saveOn(out: Tensor, parts: readonly Tensor[]): void {
  for (const t of parts) {
    if (out.node === null) {
      t.dispose();
    } else {
      untrack(t);
      out.node.saved.push(t);
    }
  }
}

/**
 * Runs an op built from other ops so that it, too, leaves alive only what it
 * returns: the intermediates its graph reaches become saved tensors of the
 * output (freed with it); the others, and all of them when nothing was
 * recorded, are freed now.
 */
export function composite(fn: () => Tensor): Tensor {
  const firstId = nextTensorId();
  const { result: out, made } = collect(fn);
  const ownOutput = made.delete(out);
  // The walk goes through every tensor made during fn — also those an inner op already
  // saved (no longer in `made`), whose history may still need ones that are — and stops
  // at tensors that existed before (the caller's inputs and parameters).
  const reached = new Set<Tensor>();
  const visited = new Set<Tensor>([out]);
  const stack = [out];
  while (stack.length > 0) {
    const t = stack.pop()!;
    for (const input of t.node?.inputs ?? []) {
      if (input.id < firstId || visited.has(input)) continue;
      visited.add(input);
      if (made.has(input)) reached.add(input);
      stack.push(input);
    }
  }
  for (const t of made) if (!reached.has(t)) t.dispose();
  if (ownOutput) trackInScope(out);
  if (reached.size > 0) out.node!.saved.push(...reached);
  return out;
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const child = inputs[i];
      if (child.requiresGrad && !visited.has(child)) {
        visited.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/**
 * Backpropagates from `root`. Without `grad`, root must hold one element and
 * its gradient is 1. Leaf tensors (requiresGrad, made by the user) get
 * `.grad` += their gradient; intermediate gradients are freed as soon as used.
 */
export function backward(root: Tensor, grad?: Tensor | null): void {
  checkFloat(root, 'backward', 'tensor');
  if (!root.requiresGrad) {
    throw new Error('backward: the tensor does not require a gradient (no input had requiresGrad: true, or it was made under noGrad)');
  }
  let seed: Tensor;
  if (grad === undefined || grad === null) {
    if (root.size !== 1) throw new Error(`backward: grad must be given for a non-scalar tensor of shape [${root.shape}]`);
    seed = ones([...root.shape]);
  } else {
    checkFloat(grad, 'backward', 'grad');
    if (grad.shape.length !== root.shape.length || grad.shape.some((d, i) => d !== root.shape[i])) {
      throw new Error(`backward: grad must have the tensor's shape [${root.shape}], got [${grad.shape}]`);
    }
    seed = viewOf(grad, grad.shape);
  }
  const order = topologicalOrder(root);
  for (const t of order) {
    const g = t.node === null ? (t.grad as unknown) : null;
    if (g === null || g === undefined || (g instanceof Tensor && g.disposed)) continue;
    if (!(g instanceof Tensor) || g.dtype !== 'float32' || g.size !== t.size || storageOf(g) === storageOf(t)) {
      seed.dispose();
      const what = g instanceof Tensor && !g.disposed && storageOf(g) === storageOf(t) ? 'the tensor itself (or a view of it)' : describe(g);
      throw new Error(`backward: the .grad of leaf tensor #${t.id} (shape [${t.shape}]) must be null or a separate float32 tensor of that shape to accumulate into, got ${what}; set it to null (or dispose it) first`);
    }
  }
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  // Leaf gradients are collected first and added to .grad only once the whole
  // pass has succeeded: a backward rule that throws changes no leaf's grad.
  const leafGrads = new Map<Tensor, Tensor>();
  try {
    noGrad(() => {
      for (let i = order.length - 1; i >= 0; i--) {
        const t = order[i];
        const g = grads.get(t);
        if (g === undefined) continue;
        grads.delete(t);
        const node = t.node;
        if (node === null) {
          leafGrads.set(t, g);
          continue;
        }
        let inputGrads: (Tensor | null)[];
        try {
          // A rule that throws midway frees what it made before the error goes on.
          inputGrads = disposeOnThrow(() => node.backward(g));
        } finally {
          g.dispose();
        }
        node.inputs.forEach((input, k) => {
          const gi = inputGrads[k];
          if (gi === null || gi === undefined) return;
          if (!input.requiresGrad) {
            gi.dispose();
            return;
          }
          const prev = grads.get(input);
          if (prev === undefined) grads.set(input, gi);
          else {
            grads.delete(input);
            try {
              grads.set(input, accumulate(prev, gi));
            } finally {
              prev.dispose();
              gi.dispose();
            }
          }
        });
      }
    });
  } catch (err) {
    for (const g of grads.values()) g.dispose();
    for (const g of leafGrads.values()) g.dispose();
    const msg = (err as Error)?.message ?? '';
    if (/^tensor #\d+ .*was disposed/.test(msg)) {
      throw new Error(`backward: ${msg}: the graph still needs it. Dispose intermediates after backward() (e.g. run the whole step inside one tidy())`);
    }
    throw err;
  }
  for (const g of grads.values()) g.dispose();
  // A leaf's gradient is kept on the tensor, owned by it, outside any tidy scope.
  for (const [t, g] of leafGrads) {
    untrack(g);
    if (t.grad === null || t.grad.disposed) t.grad = g;
    else {
      const sum = accumulate(t.grad, g);
      untrack(sum);
      t.grad.dispose();
      g.dispose();
      t.grad = sum;
    }
  }
}
