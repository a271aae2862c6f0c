import { rt } from './context.js';

// Typed-array views over the wasm memory. They are made fresh on every call
// because growing the memory detaches the old buffer: never keep one across
// a call that may allocate.
export function f32View(offset: number, length: number): Float32Array {
  return new Float32Array(rt().memory.buffer, offset, length);
}
export function i32View(offset: number, length: number): Int32Array {
  return new Int32Array(rt().memory.buffer, offset, length);
}
export function u32View(offset: number, length: number): Uint32Array {
  return new Uint32Array(rt().memory.buffer, offset, length);
}
export function i8View(offset: number, length: number): Int8Array {
  return new Int8Array(rt().memory.buffer, offset, length);
}
export function u8View(offset: number, length: number): Uint8Array {
  return new Uint8Array(rt().memory.buffer, offset, length);
}

export const MAX_STRIDED_DIMS = 8;
/** The runtime's argument block: room for four int32 arrays of MAX_STRIDED_DIMS. */
export const ARG_BLOCK_BYTES = 4 * 4 * MAX_STRIDED_DIMS;

/**
 * Writes int32 argument arrays (dims, strides, ...) into the runtime's
 * argument block and returns their offsets, for the strided kernels.
 */
export function writeArgs(...arrays: readonly number[][]): number[] {
  const { argBlock } = rt();
  const view = i32View(argBlock, arrays.length * MAX_STRIDED_DIMS);
  return arrays.map((a, i) => {
    if (a.length > MAX_STRIDED_DIMS) throw new Error(`internal: ${a.length} dims exceed ${MAX_STRIDED_DIMS}`);
    view.set(a, i * MAX_STRIDED_DIMS);
    return argBlock + i * MAX_STRIDED_DIMS * 4;
  });
}
