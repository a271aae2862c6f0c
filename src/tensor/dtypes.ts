export type DType = 'float32' | 'int32' | 'int8' | 'uint8';

export const DTYPES: readonly DType[] = ['float32', 'int32', 'int8', 'uint8'];

export function bytesPerElement(dtype: DType): number {
  return dtype === 'float32' || dtype === 'int32' ? 4 : 1;
}

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'int32'
    ? Int32Array
    : D extends 'int8'
      ? Int8Array
      : Uint8Array;

export type AnyTypedArray = Float32Array | Int32Array | Int8Array | Uint8Array;

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}
