// Quantization kernels: ternarization and fake quantization with its STE
// backward. Scalar twin: src/reference/quant.ts.

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
