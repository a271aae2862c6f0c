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
  if (typeof fn !== 'function') throw new Error('tidy: fn must be a function');
  if (fn.constructor?.name === 'AsyncFunction') {
    throw new Error('tidy: fn must be synchronous (tensors made after an await would escape the scope)');
  }
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
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors);
  for (const t of scope) {
    if (survivors.has(t) || t.kept) continue;
    t.dispose();
  }
  // What survives belongs to the enclosing scope now.
  for (const t of survivors) if (scope.has(t) && !t.kept) trackInScope(t);
  return result;
}

function collectTensors(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if (value instanceof Tensor) {
    out.add(value as Tensor);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as object)) collectTensors(v, out, depth + 1);
  }
}
