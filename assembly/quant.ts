// Rounding and quantization kernels and the STE backward masks.
// Scalar twin: src/reference/quant.ts.

// ---- forward ------------------------------------------------------------
export const HARD_SIGN: i32 = 0;      // -1, 0, +1 (sign(0) = 0, sign(NaN) = NaN)
export const HARD_BINARIZE: i32 = 1;  // -1, +1 (0 -> +1)
export const HARD_ROUND: i32 = 2;     // round half to even
export const HARD_FLOOR: i32 = 3;

@inline function hardScalar(op: i32, x: f32): f32 {
  switch (op) {
    case 0: return x > 0 ? <f32>1 : (x < 0 ? <f32>-1 : (x == 0 ? <f32>0 : x));
    case 1: return x < 0 ? <f32>-1 : <f32>1;
    case 2: return nearest<f32>(x);
    default: return Mathf.floor(x);
  }
}

@inline function hardVector(op: i32, v: v128): v128 {
  const one = f32x4.splat(1);
  const minusOne = f32x4.splat(-1);
  const zero = f32x4.splat(0);
  switch (op) {
    // NaN lanes match neither compare and pass through unchanged (NaN in, NaN out, as torch.sign).
    case 0: return v128.or(v128.or(v128.and(f32x4.gt(v, zero), one), v128.and(f32x4.lt(v, zero), minusOne)), v128.and(v, f32x4.ne(v, v)));
    case 1: return v128.bitselect(minusOne, one, f32x4.lt(v, zero));
    case 2: return f32x4.nearest(v);
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

export function f32_hard(op: i32, x: usize, y: usize, n: i32): i32 {
  switch (op) {
    case 0: return hardLoop(0, x, y, n);
    case 1: return hardLoop(1, x, y, n);
    case 2: return hardLoop(2, x, y, n);
    default: return hardLoop(3, x, y, n);
  }
}

// -1 below -t, +1 above t, 0 in between (inclusive).
export function f32_ternarize(x: usize, y: usize, n: i32, t: f32): void {
  const vt = f32x4.splat(t);
  const vnt = f32x4.splat(-t);
  const one = f32x4.splat(1);
  const minusOne = f32x4.splat(-1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    v128.store(y + o, v128.or(v128.and(f32x4.gt(v, vt), one), v128.and(f32x4.lt(v, vnt), minusOne)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(y + o, v > t ? <f32>1 : (v < -t ? <f32>-1 : <f32>0));
  }
}

// Fake quantization: q = clamp(roundHalfEven(x / scale) + zeroPoint, qmin, qmax),
// y = (q - zeroPoint) * scale.
export function f32_fake_quant(x: usize, y: usize, n: i32, scale: f32, zeroPoint: f32, qmin: f32, qmax: f32): void {
  const vs = f32x4.splat(scale);
  const vz = f32x4.splat(zeroPoint);
  const vlo = f32x4.splat(qmin);
  const vhi = f32x4.splat(qmax);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    let q = f32x4.add(f32x4.nearest(f32x4.div(v128.load(x + o), vs)), vz);
    q = f32x4.pmin(vhi, f32x4.pmax(vlo, q));
    v128.store(y + o, f32x4.mul(f32x4.sub(q, vz), vs));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let q = nearest<f32>(load<f32>(x + o) / scale) + zeroPoint;
    q = q < qmin ? qmin : (q > qmax ? qmax : q);
    store<f32>(y + o, (q - zeroPoint) * scale);
  }
}

// ---- STE backward masks ------------------------------------------------
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

// Fake-quant gradient: dy where the rounded value was not clamped, i.e.
// qmin <= roundHalfEven(x / scale) + zeroPoint <= qmax (the same test as the forward).
export function f32_fake_quant_backward(x: usize, dy: usize, dx: usize, n: i32, scale: f32, zeroPoint: f32, qmin: f32, qmax: f32): void {
  const vs = f32x4.splat(scale);
  const vz = f32x4.splat(zeroPoint);
  const vlo = f32x4.splat(qmin);
  const vhi = f32x4.splat(qmax);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const q = f32x4.add(f32x4.nearest(f32x4.div(v128.load(x + o), vs)), vz);
    const inside = v128.and(f32x4.ge(q, vlo), f32x4.le(q, vhi));
    v128.store(dx + o, v128.and(v128.load(dy + o), inside));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const q = nearest<f32>(load<f32>(x + o) / scale) + zeroPoint;
    store<f32>(dx + o, q >= qmin && q <= qmax ? load<f32>(dy + o) : <f32>0);
  }
}
