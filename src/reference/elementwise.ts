/**
 * Scalar twin of assembly/elementwise.ts: the specification of every
 * elementwise kernel and the oracle its tests compare against.
 *
 * Arithmetic is float32: every operation is rounded with Math.fround, which
 * for +, -, *, / and sqrt of float32 operands gives exactly the float32 IEEE
 * result (float64 carries more than twice the bits, so the double rounding is
 * harmless). exp, log and tanh use the engine's Math and so may differ from
 * the kernel's AssemblyScript Mathf in the last bits; tests state a tolerance
 * for those ops only.
 *
 * Op codes are those of assembly/codes.ts.
 */
import { Binary, Compare, Unary } from '../kernels/codes.generated.js';

const f = Math.fround;

/** y = op(x) for one float32 value. relu propagates NaN (relu(NaN) = NaN). */
export function unaryScalarRef(op: number, x: number): number {
  switch (op) {
    case Unary.neg: return -x;
    case Unary.relu: return x > 0 || x !== x ? x : 0;
    case Unary.exp: return f(Math.exp(x));
    case Unary.log: return f(Math.log(x));
    case Unary.tanh: return f(Math.tanh(x));
    case Unary.sigmoid: return f(1 / f(1 + f(Math.exp(-x))));
    case Unary.square: return f(x * x);
    case Unary.sqrt: return f(Math.sqrt(x));
    case Unary.abs: return Math.abs(x);
    // max(x, 0) + log1p(exp(-|x|)) and min(x, 0) - log1p(exp(-|x|)), each step rounded to float32.
    case Unary.softplus: return f(Math.max(x, 0) + f(Math.log1p(f(Math.exp(-Math.abs(x))))));
    default: return f(Math.min(x, 0) - f(Math.log1p(f(Math.exp(-Math.abs(x)))))); // logSigmoid
  }
}

/** σ(x) as the kernel forms it for softplus' and logSigmoid' gradients: exp(-|x|) only. */
function stableSigmoidRef(x: number): number {
  const e = f(Math.exp(-Math.abs(x)));
  return x >= 0 ? f(1 / f(1 + e)) : f(e / f(1 + e));
}

export function f32UnaryRef(op: number, x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) y[i] = unaryScalarRef(op, x[i]);
}

/**
 * dx = dy * f'(x), written in terms of x (input) or y = f(x) (output) exactly
 * as the kernel groups the products: exp dy*y, log dy/x, tanh dy*(1 - y*y),
 * sigmoid (dy*y)*(1 - y), square (dy*2)*x, sqrt (dy*0.5)/y, relu and abs
 * pass dy (or -dy) by the sign of x with 0 at x = 0 and at NaN.
 */
export function unaryGradScalarRef(op: number, x: number, y: number, dy: number): number {
  switch (op) {
    case Unary.neg: return -dy;
    case Unary.relu: return x > 0 ? dy : 0;
    case Unary.exp: return f(dy * y);
    case Unary.log: return f(dy / x);
    case Unary.tanh: return f(dy * f(1 - f(y * y)));
    case Unary.sigmoid: return f(f(dy * y) * f(1 - y));
    case Unary.square: return f(f(dy * 2) * x);
    case Unary.sqrt: return f(f(dy * 0.5) / y);
    case Unary.abs: return x > 0 ? dy : x < 0 ? -dy : 0;
    case Unary.softplus: return f(dy * stableSigmoidRef(x));
    default: return f(dy * stableSigmoidRef(-x)); // logSigmoid: σ(-x)
  }
}

export function f32UnaryBackwardRef(op: number, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) dx[i] = unaryGradScalarRef(op, x[i], y[i], dy[i]);
}

/** y = a*x + b (a and b are float32: the kernel takes them as f32). */
export function f32AffineRef(x: Float32Array, y: Float32Array, a: number, b: number): void {
  const fa = f(a);
  const fb = f(b);
  for (let i = 0; i < x.length; i++) y[i] = f(f(fa * x[i]) + fb);
}

/** y = min(max(x, lo), hi); NaN stays NaN, -0 stays -0 when lo = 0. */
export function f32ClipRef(x: Float32Array, y: Float32Array, lo: number, hi: number): void {
  const flo = f(lo);
  const fhi = f(hi);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = v < flo ? flo : v > fhi ? fhi : v;
  }
}

/**
 * One binary op. maximum/minimum are wasm's f32.max/f32.min: NaN in either
 * operand gives NaN, and +0 is greater than -0.
 */
export function binaryScalarRef(op: number, a: number, b: number): number {
  switch (op) {
    case Binary.add: return f(a + b);
    case Binary.sub: return f(a - b);
    case Binary.mul: return f(a * b);
    case Binary.div: return f(a / b);
    case Binary.maximum: return a !== a || b !== b ? NaN : a === b ? (Object.is(a, -0) ? b : a) : a > b ? a : b;
    // pow in float64 rounded once: within an ulp or so of the kernel's float32 Mathf.pow (tests allow that).
    case Binary.pow: return f(Math.pow(a, b));
    case Binary.powDbase: return b === 0 ? 0 : f(b * f(Math.pow(a, f(b - 1))));
    case Binary.powDexp: return b === 0 && Number.isFinite(a) ? 0 : f(a * f(Math.log(b)));
    default: return a !== a || b !== b ? NaN : a === b ? (Object.is(a, -0) ? a : b) : a < b ? a : b;
  }
}

/**
 * out (contiguous, shape dims) = op(a, b) where a and b are read through
 * element strides (0 on broadcast axes), as f32_binary does.
 */
export function f32BinaryRef(op: number, a: Float32Array, b: Float32Array, out: Float32Array,
                          dims: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void {
  const total = dims.reduce((p, d) => p * d, 1);
  const index = new Array(dims.length).fill(0);
  for (let i = 0; i < total; i++) {
    let ao = 0;
    let bo = 0;
    for (let d = 0; d < dims.length; d++) {
      ao += index[d] * aStrides[d];
      bo += index[d] * bStrides[d];
    }
    out[i] = binaryScalarRef(op, a[ao], b[bo]);
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
}

/** Walks out's index space (contiguous over dims) and yields each operand's element offset. */
function forEachStrided(dims: readonly number[], stridesList: readonly (readonly number[])[], fn: (i: number, offsets: number[]) => void): void {
  const total = dims.reduce((p, d) => p * d, 1);
  const index = new Array(dims.length).fill(0);
  for (let i = 0; i < total; i++) {
    fn(i, stridesList.map((s) => index.reduce((o, k, d) => o + k * s[d], 0)));
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
}

/** One comparison: IEEE semantics, so NaN compares false except under ne. */
export function compareScalarRef(op: number, a: number, b: number): number {
  switch (op) {
    case Compare.gt: return a > b ? 1 : 0;
    case Compare.ge: return a >= b ? 1 : 0;
    case Compare.lt: return a < b ? 1 : 0;
    case Compare.le: return a <= b ? 1 : 0;
    case Compare.eq: return a === b ? 1 : 0;
    default: return a !== b ? 1 : 0;
  }
}

/** out (uint8 0/1, contiguous over dims) = a op b, a and b read through element strides, as f32_compare does. */
export function f32CompareRef(op: number, a: Float32Array, b: Float32Array, out: Uint8Array,
                              dims: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void {
  forEachStrided(dims, [aStrides, bStrides], (i, [ao, bo]) => { out[i] = compareScalarRef(op, a[ao], b[bo]); });
}

/** out (float32) = cond ? a : b, cond uint8 (nonzero selects a), all read through element strides, as f32_where does. */
export function f32WhereRef(cond: Uint8Array, a: Float32Array, b: Float32Array, out: Float32Array, dims: readonly number[],
                            cStrides: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void {
  forEachStrided(dims, [cStrides, aStrides, bStrides], (i, [co, ao, bo]) => { out[i] = cond[co] !== 0 ? a[ao] : b[bo]; });
}

/** y += a*x */
export function f32AxpyRef(y: Float32Array, x: Float32Array, a: number): void {
  const fa = f(a);
  for (let i = 0; i < y.length; i++) y[i] = f(y[i] + f(fa * x[i]));
}

export function f32CountNaNRef(x: Float32Array): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== x[i]) n++;
  return n;
}

/** Integer to float32 conversions: exact for u8/i8, round-to-nearest-even for i32. */
export function toF32Ref(x: Uint8Array | Int8Array | Int32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) y[i] = f(x[i]);
}

/** Truncation toward zero, saturating at the int32 range; NaN gives 0. */
/** u8_to_i32 / i8_to_i32: exact widening. */
export function toI32Ref(x: Uint8Array | Int8Array, y: Int32Array): void {
  for (let i = 0; i < x.length; i++) y[i] = x[i];
}

export function f32ToI32Ref(x: Float32Array, y: Int32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = v !== v ? 0 : v >= 2147483647 ? 2147483647 : v <= -2147483648 ? -2147483648 : Math.trunc(v);
  }
}
