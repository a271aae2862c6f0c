// Op codes: the one source for the kernels' switches here and, through
// scripts/gen-abi.mjs, for src/kernels/codes.generated.ts. A group is the
// prefix before the first underscore (UNARY_, BINARY_, HARD_); the host sees
// each group as an object keyed by the lower-case rest (Unary.neg, ...).
// Not re-exported by index.ts: the host reads the generated file, not wasm globals.

// f32_unary / f32_unary_backward (elementwise.ts)
export const UNARY_NEG: i32 = 0;
export const UNARY_RELU: i32 = 1;
export const UNARY_EXP: i32 = 2;
export const UNARY_LOG: i32 = 3;
export const UNARY_TANH: i32 = 4;
export const UNARY_SIGMOID: i32 = 5;
export const UNARY_SQUARE: i32 = 6;
export const UNARY_SQRT: i32 = 7;
export const UNARY_ABS: i32 = 8;
export const UNARY_SOFTPLUS: i32 = 9;     // max(x, 0) + log1p(exp(-|x|)), Mathf
export const UNARY_LOG_SIGMOID: i32 = 10; // min(x, 0) - log1p(exp(-|x|)), Mathf

// f32_binary (elementwise.ts)
export const BINARY_ADD: i32 = 0;
export const BINARY_SUB: i32 = 1;
export const BINARY_MUL: i32 = 2;
export const BINARY_DIV: i32 = 3;
export const BINARY_MAXIMUM: i32 = 4;
export const BINARY_MINIMUM: i32 = 5;
export const BINARY_POW: i32 = 6;         // Mathf.pow (the same bits in every runtime)
// pow's gradients, as ops so that they broadcast like pow itself:
export const BINARY_POW_DBASE: i32 = 7;   // (a, b) -> b * a^(b - 1), 0 where b = 0
export const BINARY_POW_DEXP: i32 = 8;    // (y, a) -> y * ln(a), 0 where a = 0 and y is finite

// f32_hard (hard.ts)
export const HARD_SIGN: i32 = 0;      // -1, 0, +1 (sign(0) = 0, sign(NaN) = NaN)
export const HARD_BINARIZE: i32 = 1;  // -1, +1 (0 -> +1)
export const HARD_ROUND: i32 = 2;     // round half to even
export const HARD_FLOOR: i32 = 3;

// f32_compare (elementwise.ts): uint8 masks, 1 where the IEEE comparison holds (NaN: only ne holds)
export const COMPARE_GT: i32 = 0;
export const COMPARE_GE: i32 = 1;
export const COMPARE_LT: i32 = 2;
export const COMPARE_LE: i32 = 3;
export const COMPARE_EQ: i32 = 4;
export const COMPARE_NE: i32 = 5;
