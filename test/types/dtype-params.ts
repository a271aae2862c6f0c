// Type-level checks of Tensor's dtype parameter, compiled by test/types/types.test.ts.
// Each @ts-expect-error must be an error: if a type became `any`-like, tsc fails here.
import * as sg from '../../src/index.js';

const ints = sg.zeros([2], { dtype: 'int32' });
export const i32: Int32Array = ints.dataSync();
export const f32: Float32Array = sg.ones([2]).dataSync();
export const casted: Float32Array = ints.cast('float32').dataSync();
export const drawn: Int32Array = sg.randint([2], 0, 3).dataSync();
export const bytes: Uint8Array = sg.tensor([1, 2], [2], { dtype: 'uint8' }).dataSync();
export const normals: Float32Array = sg.randn([2]).dataSync();

// @ts-expect-error an int32 tensor's data is not a Float32Array
export const wrong: Float32Array = ints.dataSync();
// @ts-expect-error a float32 tensor's dtype is 'float32'
export const wrongDtype: 'int8' = sg.full([1], 1).dtype;
