import { describe } from './checks.js';
import { Tensor } from './tensor.js';

// One place that reads an options bag. The rule, for every public function:
// `null` or `undefined` for the whole bag, or for any field in it, means the
// default, exactly as if it had been omitted. Anything else that is not a
// plain options object (a number, a string, an array, a tensor, a function)
// is an Error naming the function.

/** Returns the options as a fresh object with null/undefined fields dropped; throws on a non-object. */
export function readOptions<T extends object>(options: unknown, op: string, arg = 'options'): Partial<T> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options) || options instanceof Tensor || ArrayBuffer.isView(options) || isBuiltinValue(options)) {
    throw new Error(`${op}: ${arg} must be an object (or omitted), got ${describe(options)}`);
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(options)) {
    const v = (options as Record<string, unknown>)[key];
    if (v !== undefined && v !== null) out[key] = v;
  }
  return out as Partial<T>;
}

/** Objects whose entries are not own properties (a Map's keys, a Promise's value): never an options bag. */
function isBuiltinValue(x: object): boolean {
  return x instanceof Map || x instanceof Set || x instanceof Promise || x instanceof Date || x instanceof RegExp || x instanceof ArrayBuffer;
}

/** A boolean option: true/false, or the default when missing. */
export function boolOption(v: unknown, op: string, name: string, fallback = false): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new Error(`${op}: ${name} must be true or false, got ${describe(v)}`);
  return v;
}

/** A string option from a fixed set, or the default when missing. */
export function choiceOption<C extends string>(v: unknown, op: string, name: string, choices: readonly C[], fallback: C): C {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new Error(`${op}: ${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${describe(v)}`);
  }
  return v as C;
}
