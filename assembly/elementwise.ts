import {
  BINARY_ADD, BINARY_DIV, BINARY_MAXIMUM, BINARY_MINIMUM, BINARY_MUL, BINARY_POW, BINARY_POW_DBASE, BINARY_POW_DEXP, BINARY_SUB,
  UNARY_ABS, UNARY_EXP, UNARY_LOG, UNARY_NEG, UNARY_RELU, UNARY_SIGMOID, UNARY_SQRT, UNARY_SQUARE, UNARY_TANH,
  UNARY_LOG_SIGMOID, UNARY_SOFTPLUS,
  COMPARE_EQ, COMPARE_GE, COMPARE_GT, COMPARE_LE, COMPARE_LT, COMPARE_NE,
} from "./codes";
import { outerOffset } from "./strided";

// Elementwise f32 kernels: unary maps, their backward rules, binary ops with
// broadcasting by strides, and the small in-place updates optimizers need.
// Every loop has a SIMD body and a scalar tail; the scalar twin is
// src/reference/elementwise.ts.

// ---- unary -------------------------------------------------------------
// Op codes: assembly/codes.ts.

@inline function unaryScalar(op: i32, x: f32): f32 {
  switch (op) {
    case UNARY_NEG: return -x;
    case UNARY_RELU: return x > 0 || x != x ? x : <f32>0; // NaN stays NaN, as in the SIMD body
    case UNARY_EXP: return Mathf.exp(x);
    case UNARY_LOG: return Mathf.log(x);
    case UNARY_TANH: return Mathf.tanh(x);
    case UNARY_SIGMOID: return <f32>1 / (<f32>1 + Mathf.exp(-x));
    case UNARY_SQUARE: return x * x;
    case UNARY_SQRT: return Mathf.sqrt(x);
    case UNARY_ABS: return Mathf.abs(x);
    // Stable for any |x|: exp(-|x|) never overflows, and log1p keeps the tail's bits.
    case UNARY_SOFTPLUS: return max<f32>(x, 0) + Mathf.log1p(Mathf.exp(-Mathf.abs(x)));
    default: return min<f32>(x, 0) - Mathf.log1p(Mathf.exp(-Mathf.abs(x))); // UNARY_LOG_SIGMOID
  }
}

// Ops with a cheap SIMD form; the transcendental ones stay scalar so their
// bits come from one implementation (AssemblyScript's Mathf).
@inline function unaryVector(op: i32, v: v128): v128 {
  switch (op) {
    case UNARY_NEG: return f32x4.neg(v);
    case UNARY_RELU: return f32x4.max(v, f32x4.splat(0));
    case UNARY_SQUARE: return f32x4.mul(v, v);
    case UNARY_SQRT: return f32x4.sqrt(v);
    default: return f32x4.abs(v);
  }
}

@inline function unaryLoop(op: i32, x: usize, y: usize, n: i32): void {
  let i = 0;
  if (op != UNARY_EXP && op != UNARY_LOG && op != UNARY_TANH && op != UNARY_SIGMOID
      && op != UNARY_SOFTPLUS && op != UNARY_LOG_SIGMOID) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, unaryVector(op, v128.load(x + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, unaryScalar(op, load<f32>(x + o)));
  }
}

export function f32_unary(op: i32, x: usize, y: usize, n: i32): void {
  switch (op) {
    case UNARY_NEG: unaryLoop(UNARY_NEG, x, y, n); break;
    case UNARY_RELU: unaryLoop(UNARY_RELU, x, y, n); break;
    case UNARY_EXP: unaryLoop(UNARY_EXP, x, y, n); break;
    case UNARY_LOG: unaryLoop(UNARY_LOG, x, y, n); break;
    case UNARY_TANH: unaryLoop(UNARY_TANH, x, y, n); break;
    case UNARY_SIGMOID: unaryLoop(UNARY_SIGMOID, x, y, n); break;
    case UNARY_SQUARE: unaryLoop(UNARY_SQUARE, x, y, n); break;
    case UNARY_SQRT: unaryLoop(UNARY_SQRT, x, y, n); break;
    case UNARY_SOFTPLUS: unaryLoop(UNARY_SOFTPLUS, x, y, n); break;
    case UNARY_LOG_SIGMOID: unaryLoop(UNARY_LOG_SIGMOID, x, y, n); break;
    default: unaryLoop(UNARY_ABS, x, y, n);
  }
}

// dx = dy * f'(x), written with whichever of x (input) and y (output) is cheaper.
@inline function unaryGrad(op: i32, x: f32, y: f32, dy: f32): f32 {
  switch (op) {
    case UNARY_NEG: return -dy;
    case UNARY_RELU: return x > 0 ? dy : <f32>0;
    case UNARY_EXP: return dy * y;
    case UNARY_LOG: return dy / x;
    case UNARY_TANH: return dy * (<f32>1 - y * y);
    case UNARY_SIGMOID: return dy * y * (<f32>1 - y);
    case UNARY_SQUARE: return dy * <f32>2 * x;
    case UNARY_SQRT: return dy * <f32>0.5 / y;
    case UNARY_ABS: return x > 0 ? dy : (x < 0 ? -dy : <f32>0);
    case UNARY_SOFTPLUS: return dy * stableSigmoid(x);
    default: return dy * stableSigmoid(-x); // UNARY_LOG_SIGMOID: d/dx log σ(x) = σ(-x)
  }
}

// σ(x) without overflow or 0/0: exp of a non-positive argument only.
@inline function stableSigmoid(x: f32): f32 {
  const e = Mathf.exp(-Mathf.abs(x));
  return x >= 0 ? <f32>1 / (<f32>1 + e) : e / (<f32>1 + e);
}

@inline function unaryGradLoop(op: i32, x: usize, y: usize, dy: usize, dx: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, unaryGrad(op, load<f32>(x + o), load<f32>(y + o), load<f32>(dy + o)));
  }
}

export function f32_unary_backward(op: i32, x: usize, y: usize, dy: usize, dx: usize, n: i32): void {
  switch (op) {
    case UNARY_NEG: unaryGradLoop(UNARY_NEG, x, y, dy, dx, n); break;
    case UNARY_RELU: unaryGradLoop(UNARY_RELU, x, y, dy, dx, n); break;
    case UNARY_EXP: unaryGradLoop(UNARY_EXP, x, y, dy, dx, n); break;
    case UNARY_LOG: unaryGradLoop(UNARY_LOG, x, y, dy, dx, n); break;
    case UNARY_TANH: unaryGradLoop(UNARY_TANH, x, y, dy, dx, n); break;
    case UNARY_SIGMOID: unaryGradLoop(UNARY_SIGMOID, x, y, dy, dx, n); break;
    case UNARY_SQUARE: unaryGradLoop(UNARY_SQUARE, x, y, dy, dx, n); break;
    case UNARY_SQRT: unaryGradLoop(UNARY_SQRT, x, y, dy, dx, n); break;
    case UNARY_SOFTPLUS: unaryGradLoop(UNARY_SOFTPLUS, x, y, dy, dx, n); break;
    case UNARY_LOG_SIGMOID: unaryGradLoop(UNARY_LOG_SIGMOID, x, y, dy, dx, n); break;
    default: unaryGradLoop(UNARY_ABS, x, y, dy, dx, n);
  }
}

// y = a * x + b
export function f32_affine(x: usize, y: usize, n: i32, a: f32, b: f32): void {
  const va = f32x4.splat(a);
  const vb = f32x4.splat(b);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(f32x4.mul(v128.load(x + o), va), vb));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, a * load<f32>(x + o) + b);
  }
}

// y = min(max(x, lo), hi); NaN stays NaN.
export function f32_clip(x: usize, y: usize, n: i32, lo: f32, hi: f32): void {
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    const r = v128.bitselect(vlo, v, f32x4.lt(v, vlo));
    v128.store(y + o, v128.bitselect(vhi, r, f32x4.gt(v, vhi)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(y + o, v < lo ? lo : (v > hi ? hi : v));
  }
}

// ---- binary with broadcasting -----------------------------------------
// out is contiguous with shape dims[0..ndim); a and b are read through
// element strides (0 on broadcast axes).

@inline function binaryScalar(op: i32, a: f32, b: f32): f32 {
  switch (op) {
    case BINARY_ADD: return a + b;
    case BINARY_SUB: return a - b;
    case BINARY_MUL: return a * b;
    case BINARY_DIV: return a / b;
    case BINARY_MAXIMUM: return max<f32>(a, b);
    case BINARY_MINIMUM: return min<f32>(a, b);
    case BINARY_POW: return Mathf.pow(a, b);
    // PyTorch's masks: d(a^b)/da is 0 for b = 0 even at a = 0, and d(a^b)/db is 0 at a = 0 for b >= 0.
    case BINARY_POW_DBASE: return b == 0 ? <f32>0 : b * Mathf.pow(a, b - 1);
    default: return b == 0 && isFinite<f32>(a) ? <f32>0 : a * Mathf.log(b); // BINARY_POW_DEXP (y, base)
  }
}

// Ops without a SIMD form (pow and its gradients) run the scalar loop only.
@inline function hasVectorForm(op: i32): bool {
  return op <= BINARY_MINIMUM;
}

@inline function binaryVector(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case BINARY_ADD: return f32x4.add(a, b);
    case BINARY_SUB: return f32x4.sub(a, b);
    case BINARY_MUL: return f32x4.mul(a, b);
    case BINARY_DIV: return f32x4.div(a, b);
    case BINARY_MAXIMUM: return f32x4.max(a, b);
    default: return f32x4.min(a, b);
  }
}

@inline function binaryRow(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  let i = 0;
  if (hasVectorForm(op)) i = binaryRowVector(op, a, sa, b, sb, out, n);
  for (; i < n; i++) {
    store<f32>(out + (<usize>i << 2), binaryScalar(op,
      load<f32>(a + (<usize>(i * sa) << 2)), load<f32>(b + (<usize>(i * sb) << 2))));
  }
}

/** The SIMD part of a row for the contiguous and broadcast-scalar layouts; returns how many values it wrote. */
@inline function binaryRowVector(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): i32 {
  let i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, binaryVector(op, v128.load(a + o), v128.load(b + o)));
    }
  } else if (sa == 1 && sb == 0) {
    const vb = v128.load32_splat(b);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, binaryVector(op, v128.load(a + o), vb));
    }
  } else if (sa == 0 && sb == 1) {
    const va = v128.load32_splat(a);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, binaryVector(op, va, v128.load(b + o)));
    }
  }
  return i;
}

@inline function binaryRowDispatch(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  switch (op) {
    case BINARY_ADD: binaryRow(BINARY_ADD, a, sa, b, sb, out, n); break;
    case BINARY_SUB: binaryRow(BINARY_SUB, a, sa, b, sb, out, n); break;
    case BINARY_MUL: binaryRow(BINARY_MUL, a, sa, b, sb, out, n); break;
    case BINARY_DIV: binaryRow(BINARY_DIV, a, sa, b, sb, out, n); break;
    case BINARY_MAXIMUM: binaryRow(BINARY_MAXIMUM, a, sa, b, sb, out, n); break;
    case BINARY_MINIMUM: binaryRow(BINARY_MINIMUM, a, sa, b, sb, out, n); break;
    case BINARY_POW: binaryRow(BINARY_POW, a, sa, b, sb, out, n); break;
    case BINARY_POW_DBASE: binaryRow(BINARY_POW_DBASE, a, sa, b, sb, out, n); break;
    default: binaryRow(BINARY_POW_DEXP, a, sa, b, sb, out, n);
  }
}

export function f32_binary(op: i32, a: usize, b: usize, out: usize, ndim: i32,
                           dims: usize, aStrides: usize, bStrides: usize): void {
  const last = ndim - 1;
  const n = load<i32>(dims + (<usize>last << 2));
  const sa = load<i32>(aStrides + (<usize>last << 2));
  const sb = load<i32>(bStrides + (<usize>last << 2));
  let rows = 1;
  for (let d = 0; d < last; d++) rows *= load<i32>(dims + (<usize>d << 2));
  if (n == 0) return;
  for (let r = 0; r < rows; r++) {
    const ao = outerOffset(r, last, dims, aStrides);
    const bo = outerOffset(r, last, dims, bStrides);
    binaryRowDispatch(op, a + (<usize>ao << 2), sa, b + (<usize>bo << 2), sb, out + (<usize>(r * n) << 2), n);
  }
}

// ---- comparisons and select ---------------------------------------------
// Same layout as f32_binary: out is contiguous over dims, operands are read
// through element strides (0 on broadcast axes).

@inline function compareScalar(op: i32, a: f32, b: f32): bool {
  switch (op) {
    case COMPARE_GT: return a > b;
    case COMPARE_GE: return a >= b;
    case COMPARE_LT: return a < b;
    case COMPARE_LE: return a <= b;
    case COMPARE_EQ: return a == b;
    default: return a != b; // COMPARE_NE
  }
}

// Lane masks are all ones or all zeros, as i32.
@inline function compareVector(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case COMPARE_GT: return f32x4.gt(a, b);
    case COMPARE_GE: return f32x4.ge(a, b);
    case COMPARE_LT: return f32x4.lt(a, b);
    case COMPARE_LE: return f32x4.le(a, b);
    case COMPARE_EQ: return f32x4.eq(a, b);
    default: return f32x4.ne(a, b);
  }
}

/** Sixteen i32 lane masks (-1/0) narrowed to sixteen uint8 0/1 values. */
@inline function packMasks(m0: v128, m1: v128, m2: v128, m3: v128): v128 {
  const lo = i16x8.narrow_i32x4_s(m0, m1);
  const hi = i16x8.narrow_i32x4_s(m2, m3);
  return v128.and(i8x16.narrow_i16x8_s(lo, hi), i8x16.splat(1));
}

// a and b each step by 0 (a broadcast scalar) or 1 (contiguous) in the vector body.
@inline function compareRow(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  let i = 0;
  if ((sa == 0 || sa == 1) && (sb == 0 || sb == 1)) {
    const ga = <usize>sa << 2;
    const gb = <usize>sb << 2;
    for (; i + 16 <= n; i += 16) {
      const pa = a + (<usize>(i * sa) << 2);
      const pb = b + (<usize>(i * sb) << 2);
      const m0 = compareVector(op, sa ? v128.load(pa) : v128.load32_splat(pa), sb ? v128.load(pb) : v128.load32_splat(pb));
      const m1 = compareVector(op, sa ? v128.load(pa + 4 * ga) : v128.load32_splat(pa), sb ? v128.load(pb + 4 * gb) : v128.load32_splat(pb));
      const m2 = compareVector(op, sa ? v128.load(pa + 8 * ga) : v128.load32_splat(pa), sb ? v128.load(pb + 8 * gb) : v128.load32_splat(pb));
      const m3 = compareVector(op, sa ? v128.load(pa + 12 * ga) : v128.load32_splat(pa), sb ? v128.load(pb + 12 * gb) : v128.load32_splat(pb));
      v128.store(out + <usize>i, packMasks(m0, m1, m2, m3));
    }
  }
  for (; i < n; i++) {
    store<u8>(out + <usize>i, <u8>compareScalar(op,
      load<f32>(a + (<usize>(i * sa) << 2)), load<f32>(b + (<usize>(i * sb) << 2))));
  }
}

/** out (uint8, 0/1) = a op b with broadcasting, op one of the COMPARE_ codes. */
export function f32_compare(op: i32, a: usize, b: usize, out: usize, ndim: i32,
                            dims: usize, aStrides: usize, bStrides: usize): void {
  const last = ndim - 1;
  const n = load<i32>(dims + (<usize>last << 2));
  const sa = load<i32>(aStrides + (<usize>last << 2));
  const sb = load<i32>(bStrides + (<usize>last << 2));
  let rows = 1;
  for (let d = 0; d < last; d++) rows *= load<i32>(dims + (<usize>d << 2));
  if (n == 0) return;
  for (let r = 0; r < rows; r++) {
    const pa = a + (<usize>outerOffset(r, last, dims, aStrides) << 2);
    const pb = b + (<usize>outerOffset(r, last, dims, bStrides) << 2);
    const po = out + <usize>(r * n);
    switch (op) {
      case COMPARE_GT: compareRow(COMPARE_GT, pa, sa, pb, sb, po, n); break;
      case COMPARE_GE: compareRow(COMPARE_GE, pa, sa, pb, sb, po, n); break;
      case COMPARE_LT: compareRow(COMPARE_LT, pa, sa, pb, sb, po, n); break;
      case COMPARE_LE: compareRow(COMPARE_LE, pa, sa, pb, sb, po, n); break;
      case COMPARE_EQ: compareRow(COMPARE_EQ, pa, sa, pb, sb, po, n); break;
      default: compareRow(COMPARE_NE, pa, sa, pb, sb, po, n);
    }
  }
}

/**
 * out (f32) = cond ? a : b with broadcasting; cond is uint8 (nonzero selects a).
 * The vector body covers the all-contiguous row: 4 cond bytes widen to lane masks.
 */
export function f32_where(cond: usize, a: usize, b: usize, out: usize, ndim: i32,
                          dims: usize, cStrides: usize, aStrides: usize, bStrides: usize): void {
  const last = ndim - 1;
  const n = load<i32>(dims + (<usize>last << 2));
  const sc = load<i32>(cStrides + (<usize>last << 2));
  const sa = load<i32>(aStrides + (<usize>last << 2));
  const sb = load<i32>(bStrides + (<usize>last << 2));
  let rows = 1;
  for (let d = 0; d < last; d++) rows *= load<i32>(dims + (<usize>d << 2));
  if (n == 0) return;
  for (let r = 0; r < rows; r++) {
    const pc = cond + <usize>outerOffset(r, last, dims, cStrides);
    const pa = a + (<usize>outerOffset(r, last, dims, aStrides) << 2);
    const pb = b + (<usize>outerOffset(r, last, dims, bStrides) << 2);
    const po = out + (<usize>(r * n) << 2);
    let i = 0;
    if (sc == 1 && sa == 1 && sb == 1) {
      for (; i + 4 <= n; i += 4) {
        const c = v128.load32_zero(pc + <usize>i);
        const mask = i32x4.ne(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(c)), i32x4.splat(0));
        const o = <usize>i << 2;
        v128.store(po + o, v128.bitselect(v128.load(pa + o), v128.load(pb + o), mask));
      }
    }
    for (; i < n; i++) {
      const v = load<u8>(pc + <usize>(i * sc)) != 0
        ? load<f32>(pa + (<usize>(i * sa) << 2))
        : load<f32>(pb + (<usize>(i * sb) << 2));
      store<f32>(po + (<usize>i << 2), v);
    }
  }
}

// ---- in place -----------------------------------------------------------

// y += a * x
export function f32_axpy(y: usize, x: usize, n: i32, a: f32): void {
  const va = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(va, v128.load(x + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}

export function f32_fill(y: usize, n: i32, v: f32): void {
  const vv = f32x4.splat(v);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), vv);
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), v);
}

export function i32_fill(y: usize, n: i32, v: i32): void {
  for (let i = 0; i < n; i++) store<i32>(y + (<usize>i << 2), v);
}

// Number of NaNs in x (used to reject NaN where an op cannot take it).
export function f32_count_nan(x: usize, n: i32): i32 {
  // Lane masks are -1 where v != v; subtracting them counts.
  let acc = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    acc = i32x4.sub(acc, f32x4.ne(v, v));
  }
  let count = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v != v) count++;
  }
  return count;
}

// ---- dtype conversion ---------------------------------------------------
export function u8_to_f32(x: usize, y: usize, n: i32): void {
  for (let i = n - 1; i >= 0; i--) store<f32>(y + (<usize>i << 2), <f32>load<u8>(x + <usize>i));
}
export function i8_to_f32(x: usize, y: usize, n: i32): void {
  for (let i = n - 1; i >= 0; i--) store<f32>(y + (<usize>i << 2), <f32>load<i8>(x + <usize>i));
}
export function u8_to_i32(x: usize, y: usize, n: i32): void {
  for (let i = n - 1; i >= 0; i--) store<i32>(y + (<usize>i << 2), <i32>load<u8>(x + <usize>i));
}
export function i8_to_i32(x: usize, y: usize, n: i32): void {
  for (let i = n - 1; i >= 0; i--) store<i32>(y + (<usize>i << 2), <i32>load<i8>(x + <usize>i));
}
export function i32_to_f32(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + (<usize>i << 2), <f32>load<i32>(x + (<usize>i << 2)));
}
// Truncation toward zero, saturating (the host rejects NaN first).
export function f32_to_i32(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<i32>(y + (<usize>i << 2), <i32>load<f32>(x + (<usize>i << 2)));
}
