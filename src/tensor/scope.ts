import { checkTensor, describe } from './checks.js';
import { Tensor } from './tensor.js';

/**
 * tidy() scopes. JS garbage collection cannot see wasm memory, so every
 * tensor made inside tidy(fn) is disposed when fn returns, except what fn
 * returns and what was passed to keep().
 */
const scopes: Set<Tensor>[] = [];

export function trackInScope(t: Tensor): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(t);
}

export function untrack(t: Tensor): void {
  for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i].delete(t)) return;
}

/** Stops every tidy() scope from disposing t. */
export function keep<T extends Tensor>(t: T): T {
  checkTensor(t, 'keep', 't');
  t.kept = true;
  untrack(t);
  return t;
}

export function tidy<R>(fn: () => R): R {
  if (typeof fn !== 'function') throw new Error(`tidy: fn must be a function, got ${describe(fn)}`);
  if (fn.constructor?.name === 'AsyncFunction') {
    throw new Error('tidy: fn must be synchronous (tensors made after an await would escape the scope)');
  }
  const { result, created } = captured(fn);
  const survivors = tensorsIn(result);
  for (const t of created) {
    if (survivors.has(t) || t.kept) continue;
    t.dispose();
  }
  // What survives belongs to the enclosing scope now.
  for (const t of survivors) if (created.has(t) && !t.kept) trackInScope(t);
  return result;
}

/**
 * Runs fn in a scope of its own and returns its result with the tensors it
 * made that are still alive. If fn throws, every tensor it made (and did not
 * keep) is disposed first: a failed call leaks nothing.
 */
function captured<R>(fn: () => R): { result: R; created: Set<Tensor> } {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: R;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of scope) if (!t.kept) t.dispose();
    throw err;
  }
  scopes.pop();
  return { result, created: scope };
}

/**
 * Runs fn; if it throws, every tensor it made (and did not keep) is disposed.
 * On success the tensors it made stay alive and belong to the enclosing scope.
 */
export function disposeOnThrow<R>(fn: () => R): R {
  const { result, created } = captured(fn);
  for (const t of created) if (!t.disposed && !t.kept) trackInScope(t);
  return result;
}

/**
 * Runs the body of an op built from other ops and leaves alive only its
 * output: the intermediates the body made are tied to the output when its
 * backward pass may read them (the tape holds them), and disposed otherwise.
 * If the body throws, everything it made is disposed.
 */
export function composite(fn: () => Tensor): Tensor {
  const { result, created } = captured(fn);
  const owned = created.has(result);
  for (const t of created) {
    if (t === result || t.kept) continue;
    if (owned && result.node !== null) result.attach(t);
    else t.dispose();
  }
  if (owned && !result.kept) trackInScope(result);
  return result;
}

/**
 * Every tensor reachable from a tidy() result: through arrays, Map keys and
 * values, Set members and the own enumerable properties of objects, at any
 * depth, visiting each object once (cycles are safe).
 */
function tensorsIn(value: unknown): Set<Tensor> {
  const out = new Set<Tensor>();
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof Tensor) {
      out.add(v);
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v instanceof Map) {
      for (const [k, item] of v) stack.push(k, item);
    } else if (v instanceof Set) {
      for (const item of v) stack.push(item);
    } else if (!ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer) && !(v instanceof Promise)) {
      for (const key of Object.keys(v)) {
        const d = Object.getOwnPropertyDescriptor(v, key);
        // Plain data only: reading a getter could run user code or throw.
        if (d !== undefined && 'value' in d) stack.push(d.value);
      }
    }
  }
  return out;
}
