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

/**
 * Runs fn in a scope of its own and returns its result with the tensors it
 * made (and did not dispose), now tracked by no scope: the caller owns them.
 * On a throw, what fn made is freed.
 */
export function collect<R>(fn: () => R): { result: R; made: Set<Tensor> } {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  try {
    const result = fn();
    return { result, made: scope };
  } catch (err) {
    for (const t of scope) if (!t.kept) t.dispose();
    throw err;
  } finally {
    scopes.pop();
  }
}

export function tidy<R>(fn: () => R): R {
  if (typeof fn !== 'function') throw new Error(`tidy: fn must be a function, got ${describe(fn)}`);
  if (fn.constructor?.name === 'AsyncFunction') {
    throw new Error('tidy: fn must be synchronous (tensors made after an await would escape the scope)');
  }
  const { result, made } = collect(fn);
  const survivors = tensorsIn(result);
  for (const t of made) {
    if (survivors.has(t) || t.kept) continue;
    t.dispose();
  }
  // What survives belongs to the enclosing scope now.
  for (const t of survivors) if (made.has(t) && !t.kept) trackInScope(t);
  return result;
}

/**
 * Runs fn; if it throws, every tensor it made (and did not keep) is disposed.
 * On success the tensors it made stay alive and belong to the enclosing scope.
 */
export function disposeOnThrow<R>(fn: () => R): R {
  const { result, made } = collect(fn);
  for (const t of made) if (!t.disposed && !t.kept) trackInScope(t);
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
