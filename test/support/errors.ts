// Asserting a clear failure: the Error a call throws (never a TypeError,
// RangeError or wasm trap), checked to leak nothing.
import { expect } from 'vitest';
import * as sg from '../../src/index.js';

/** The message of the plain Error fn throws; fails if fn returns, throws another kind, or leaks. */
export function errorOf(fn: () => unknown): string {
  const before = sg.memoryStats();
  let thrown: unknown = null;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected an error').not.toBeNull();
  expect((thrown as Error).constructor).toBe(Error);
  const after = sg.memoryStats();
  expect({ bytes: after.bytesInUse, tensors: after.tensorsAlive }, `failed call leaked: ${(thrown as Error).message}`).toEqual({ bytes: before.bytesInUse, tensors: before.tensorsAlive });
  return (thrown as Error).message;
}
