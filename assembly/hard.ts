import { HARD_BINARIZE, HARD_FLOOR, HARD_ROUND, HARD_SIGN } from "./codes";

// Hard (piecewise-constant) maps and the backward rules the straight-through
// estimators use for them: sign, binarize, round, floor (op codes:
// assembly/codes.ts), the clipped-identity range mask, and the ApproxSign and
// SwishSign surrogates of sign's gradient. Scalar twin: src/reference/hard.ts.

// ---- forward ------------------------------------------------------------
@inline function hardScalar(op: i32, x: f32): f32 {
  switch (op) {
    case HARD_SIGN: return x > 0 ? <f32>1 : (x < 0 ? <f32>-1 : (x == 0 ? <f32>0 : x));
    case HARD_BINARIZE: return x < 0 ? <f32>-1 : <f32>1;
    case HARD_ROUND: return nearest<f32>(x);
    default: return Mathf.floor(x);
  }
}

@inline function hardVector(op: i32, v: v128): v128 {
  const one = f32x4.splat(1);
  const minusOne = f32x4.splat(-1);
  const zero = f32x4.splat(0);
  switch (op) {
    // NaN lanes match neither compare and pass through unchanged (NaN in, NaN out, as torch.sign).
    case HARD_SIGN: return v128.or(v128.or(v128.and(f32x4.gt(v, zero), one), v128.and(f32x4.lt(v, zero), minusOne)), v128.and(v, f32x4.ne(v, v)));
    case HARD_BINARIZE: return v128.bitselect(minusOne, one, f32x4.lt(v, zero));
    case HARD_ROUND: return f32x4.nearest(v);
    default: return f32x4.floor(v);
  }
}

// Returns the number of NaNs seen, so callers that forbid NaN need no second pass.
@inline function hardLoop(op: i32, x: usize, y: usize, n: i32): i32 {
  let nan = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    nan = i32x4.sub(nan, f32x4.ne(v, v));
    v128.store(y + o, hardVector(op, v));
  }
  let count = i32x4.extract_lane(nan, 0) + i32x4.extract_lane(nan, 1) + i32x4.extract_lane(nan, 2) + i32x4.extract_lane(nan, 3);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    if (v != v) count++;
    store<f32>(y + o, hardScalar(op, v));
  }
  return count;
}

// Returns the number of NaNs in x (sign and binarize callers reject NaN without a second pass).
export function f32_hard(op: i32, x: usize, y: usize, n: i32): i32 {
  switch (op) {
    case HARD_SIGN: return hardLoop(HARD_SIGN, x, y, n);
    case HARD_BINARIZE: return hardLoop(HARD_BINARIZE, x, y, n);
    case HARD_ROUND: return hardLoop(HARD_ROUND, x, y, n);
    default: return hardLoop(HARD_FLOOR, x, y, n);
  }
}

// ---- STE backward rules ------------------------------------------------
// dx = dy where lo <= x <= hi, else 0 (clipped identity, fake-quant range, clip).
export function f32_range_mask_backward(x: usize, dy: usize, dx: usize, n: i32, lo: f32, hi: f32): void {
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    const inside = v128.and(f32x4.ge(v, vlo), f32x4.le(v, vhi));
    v128.store(dx + o, v128.and(v128.load(dy + o), inside));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(dx + o, v >= lo && v <= hi ? load<f32>(dy + o) : <f32>0);
  }
}

// Bi-Real ApproxSign: dx = (2 - 2|x|) dy where |x| <= 1, else 0.
export function f32_approx_sign_backward(x: usize, dy: usize, dx: usize, n: i32): void {
  const one = f32x4.splat(1);
  const two = f32x4.splat(2);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const a = f32x4.abs(v128.load(x + o));
    const g = f32x4.mul(f32x4.sub(two, f32x4.add(a, a)), v128.load(dy + o));
    v128.store(dx + o, v128.and(g, f32x4.le(a, one)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const a = Mathf.abs(load<f32>(x + o));
    store<f32>(dx + o, a <= 1 ? (<f32>2 - <f32>2 * a) * load<f32>(dy + o) : <f32>0);
  }
}

// SwishSign: d/dx [2 sigmoid(b x)(1 + b x (1 - sigmoid(b x))) - 1]
//          = b (2 - b x tanh(b x / 2)) / (1 + cosh(b x)).
export function f32_swish_sign_backward(x: usize, dy: usize, dx: usize, n: i32, beta: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const bx = beta * load<f32>(x + o);
    const g = beta * (<f32>2 - bx * Mathf.tanh(bx * <f32>0.5)) / (<f32>1 + Mathf.cosh(bx));
    store<f32>(dx + o, g * load<f32>(dy + o));
  }
}
