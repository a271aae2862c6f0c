// Generators of the fuzz suite: shapes, dtypes, values (NaN, ±Infinity, -0,
// huge, denormal), hostile option bags and arguments, and byte mutations.
// Tensors are generated as plain specs ({ shape, dtype, data }) and made by
// the case itself, so every case owns (and frees) what it creates.
import fc from 'fast-check';
import * as sg from '../../src/index.js';

export type DType = 'float32' | 'int32' | 'int8' | 'uint8';
export const DTYPES: readonly DType[] = ['float32', 'int32', 'int8', 'uint8'];

export interface TensorSpec {
  shape: number[];
  dtype: DType;
  data: number[];
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A dimension: 0 and 1 often, small primes and a SIMD-tail size sometimes. */
export const dim = (max = 7): fc.Arbitrary<number> =>
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0, 1) }, { weight: 6, arbitrary: fc.integer({ min: 2, max }) });

/** A shape of rank min..max whose element count stays below maxSize. */
export function shape(opts: { minRank?: number; maxRank?: number; maxDim?: number; maxSize?: number } = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 4, maxDim = 7, maxSize = 256 } = opts;
  return fc.array(dim(maxDim), { minLength: minRank, maxLength: maxRank }).filter((s) => size(s) <= maxSize);
}

/** Any rank 0..9: rank 9 is past the supported 8 and must be rejected clearly. */
export const anyRankShape = fc.oneof(
  { weight: 8, arbitrary: shape({ maxRank: 5 }) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(1, 2, 2), { minLength: 6, maxLength: 9 }) },
);

/** float32 values including NaN, ±Infinity, -0, huge and denormal ones. */
export const specialF32 = fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, 3.4e38, -3.4e38, 1e30, -1e30, 1.4e-45, -1.4e-45, 1e-40, 1.1754942e-38);
export const plainF32 = fc.float({ min: -8, max: 8, noNaN: true }).map(Math.fround);
export const anyF32 = fc.oneof({ weight: 6, arbitrary: plainF32 }, { weight: 2, arbitrary: specialF32 }, { weight: 1, arbitrary: fc.float().map(Math.fround) });
export const finiteF32 = fc.oneof({ weight: 6, arbitrary: plainF32 }, { weight: 1, arbitrary: fc.constantFrom(-0, 0, 1.4e-45, 1e-40, 1e6, -1e6) });

const RANGES: Record<DType, [number, number]> = { float32: [0, 0], int32: [-(2 ** 31), 2 ** 31 - 1], int8: [-128, 127], uint8: [0, 255] };

export function valuesFor(dtype: DType, n: number, f32: fc.Arbitrary<number> = anyF32): fc.Arbitrary<number[]> {
  const el = dtype === 'float32' ? f32 : fc.oneof(fc.integer({ min: RANGES[dtype][0], max: RANGES[dtype][1] }), fc.constantFrom(RANGES[dtype][0], RANGES[dtype][1], 0));
  return fc.array(el, { minLength: n, maxLength: n });
}

export function tensorOf(shapeArb: fc.Arbitrary<number[]>, dtype: DType | fc.Arbitrary<DType> = 'float32', f32: fc.Arbitrary<number> = anyF32): fc.Arbitrary<TensorSpec> {
  const dt = typeof dtype === 'string' ? fc.constant(dtype) : dtype;
  return fc.tuple(shapeArb, dt).chain(([s, d]) => valuesFor(d, size(s), f32).map((data) => ({ shape: s, dtype: d, data })));
}

export const floatTensor = (opts: Parameters<typeof shape>[0] = {}, f32: fc.Arbitrary<number> = anyF32): fc.Arbitrary<TensorSpec> => tensorOf(shape(opts), 'float32', f32);
export const anyTensor = (opts: Parameters<typeof shape>[0] = {}): fc.Arbitrary<TensorSpec> => tensorOf(shape(opts), fc.constantFrom(...DTYPES));

/** A float32 matrix [rows, cols] with the given value generator. */
export function matrix(rows: fc.Arbitrary<number>, cols: fc.Arbitrary<number>, f32: fc.Arbitrary<number> = finiteF32): fc.Arbitrary<TensorSpec> {
  return fc.tuple(rows, cols).chain(([r, c]) => valuesFor('float32', r * c, f32).map((data) => ({ shape: [r, c], dtype: 'float32' as DType, data })));
}

/** Makes the tensor of a spec (the caller owns it). */
export function make(spec: TensorSpec, requiresGrad = false): sg.Tensor {
  return sg.tensor(spec.data, spec.shape, { dtype: spec.dtype, requiresGrad: requiresGrad && spec.dtype === 'float32' });
}

/** Arguments a careless or hostile caller passes where a tensor/number/option is expected. */
export const hostile = fc.constantFrom<unknown>(
  null, undefined, NaN, Infinity, -Infinity, -1, 0, -0, 0.5, 1e300, -1e300, 2 ** 31, 2 ** 53, -(2 ** 53),
  'x', '', '1', true, false, {}, [], [1, 2], () => 1, Symbol('s'), 10n, new Map(), new Set(), new Uint8Array(3), Object.create(null),
  new BigInt64Array(2), new DataView(new ArrayBuffer(8)), new Float64Array([1, NaN]),
);

/** Hostile values for a key of an option bag: null and undefined there may mean "not given", so they are left out. */
export const hostileOption = hostile.filter((v) => v !== null && v !== undefined);

/** A numeric option value: usually sensible, often hostile. */
export function numberOption(valid: fc.Arbitrary<number>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 2, arbitrary: hostileOption });
}

/**
 * An option bag built from per-key value generators: missing, null, a wrong
 * type, or an object whose keys are each missing, valid or hostile, plus
 * unknown extra keys sometimes.
 */
export function optionBag(keys: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const entries = Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, fc.oneof({ weight: 4, arbitrary: v }, { weight: 1, arbitrary: hostileOption })]));
  const bag = fc.record(entries, { requiredKeys: [] });
  const withExtra = fc.tuple(bag, fc.dictionary(fc.constantFrom('extra', 'axes', 'Scale', '__proto__x'), hostileOption, { maxKeys: 2 })).map(([b, e]) => ({ ...e, ...b }));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, 5, 'opts', [], true) },
    { weight: 6, arbitrary: bag },
    { weight: 1, arbitrary: withExtra },
  );
}

// ---- byte mutations ------------------------------------------------------

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'set'; at: number; value: number };

/** Positions are fractions of the file length, so one generator serves files of any size; `headerBias` aims at the first bytes. */
export const mutation = (headerBias = 0.5): fc.Arbitrary<Mutation> => {
  const pos = fc.oneof({ weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) }, { weight: headerBias > 0 ? 1 : 0.0001, arbitrary: fc.double({ min: 0, max: headerBias, noNaN: true }) });
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: pos, bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), keep: pos }),
    fc.record({ kind: fc.constant('insert' as const), at: pos, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: pos, count: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant('set' as const), at: pos, value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x22, 0x7b, 0x7d, 0x30, 0x39) }),
  ) as fc.Arbitrary<Mutation>;
};

export function applyMutations(bytes: Uint8Array, muts: readonly Mutation[]): Uint8Array {
  let b: Uint8Array = bytes.slice();
  for (const m of muts) {
    const at = (f: number): number => Math.min(b.length, Math.floor(f * b.length));
    switch (m.kind) {
      case 'flip': if (b.length > 0) { const i = Math.min(b.length - 1, at(m.at as unknown as number)); b[i] ^= 1 << m.bit; } break;
      case 'set': if (b.length > 0) { const i = Math.min(b.length - 1, at(m.at as unknown as number)); b[i] = m.value; } break;
      case 'truncate': b = b.slice(0, at(m.keep as unknown as number)); break;
      case 'insert': { const i = at(m.at as unknown as number); b = Uint8Array.from([...b.subarray(0, i), ...m.bytes, ...b.subarray(i)]); break; }
      case 'delete': { const i = at(m.at as unknown as number); b = Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + m.count)]); break; }
    }
  }
  return b;
}

export const mutations = (headerBias = 0.5): fc.Arbitrary<Mutation[]> => fc.array(mutation(headerBias), { minLength: 1, maxLength: 3 });

/** Padding of a 2-D window: 'same', 'valid' or explicit [[top, bottom], [left, right]]. */
export type Pad2d = 'same' | 'valid' | [[number, number], [number, number]];

/** A conv2d geometry (NHWC input, HWIO weight): channels come in whole groups. */
export interface ConvGeo { N: number; H: number; W: number; cin: number; cout: number; kh: number; kw: number; groups: number; stride: [number, number]; dilation: [number, number]; padding: Pad2d }

/** Conv geometries: H, W in 1..7, strides 1..3, dilations 1..2, padding 'same', 'valid' or 0..2 per side. */
export function convGeometry(b: { minN: number; maxCg: number; maxOg: number; maxGroups: number; maxK: number }): fc.Arbitrary<ConvGeo> {
  return fc.record({
    N: fc.integer({ min: b.minN, max: 3 }), H: fc.integer({ min: 1, max: 7 }), W: fc.integer({ min: 1, max: 7 }),
    cg: fc.integer({ min: 1, max: b.maxCg }), og: fc.integer({ min: 1, max: b.maxOg }), groups: fc.integer({ min: 1, max: b.maxGroups }),
    kh: fc.integer({ min: 1, max: b.maxK }), kw: fc.integer({ min: 1, max: b.maxK }),
    stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    padding: fc.oneof(fc.constantFrom<Pad2d>('same', 'valid'), fc.tuple(fc.tuple(fc.nat(2), fc.nat(2)), fc.tuple(fc.nat(2), fc.nat(2))) as fc.Arbitrary<Pad2d>),
  }).map(({ cg, og, groups, ...r }) => ({ ...r, groups, cin: cg * groups, cout: og * groups }));
}
