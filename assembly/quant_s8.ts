// int8 / uint8 quantization of float32 rows. Scalar twin: src/reference/quant_s8.ts.
//
//   quantize:   q = clamp(roundHalfEven(x / scale[c]) + zeroPoint[c], qmin, qmax)
//   dequantize: x = (q - zeroPoint[c]) · scale[c]
// over a [rows, cols] block where channel c is the row (per-channel, e.g. a
// weight's output channel) or 0 for every row (per-tensor: perChannel = 0).
// Division (not a multiply by 1/scale) so the result is the correctly rounded
// quotient the spec names. The host picks qmin/qmax: symmetric int8 uses
// [-127, 127], asymmetric int8 [-128, 127], uint8 [0, 255]. NaN is rejected by
// the host; ±Infinity saturates.

@inline function quantRow(x: usize, q: usize, cols: i32, scale: f32, zp: f32, qmin: f32, qmax: f32, unsigned: bool): void {
  const vs = f32x4.splat(scale);
  const vz = f32x4.splat(zp);
  const lo = f32x4.splat(qmin);
  const hi = f32x4.splat(qmax);
  let j = 0;
  for (; j + 16 <= cols; j += 16) {
    const p = x + (<usize>j << 2);
    const r0 = i32x4.trunc_sat_f32x4_s(f32x4.pmin(hi, f32x4.pmax(lo, f32x4.add(f32x4.nearest(f32x4.div(v128.load(p), vs)), vz))));
    const r1 = i32x4.trunc_sat_f32x4_s(f32x4.pmin(hi, f32x4.pmax(lo, f32x4.add(f32x4.nearest(f32x4.div(v128.load(p, 16), vs)), vz))));
    const r2 = i32x4.trunc_sat_f32x4_s(f32x4.pmin(hi, f32x4.pmax(lo, f32x4.add(f32x4.nearest(f32x4.div(v128.load(p, 32), vs)), vz))));
    const r3 = i32x4.trunc_sat_f32x4_s(f32x4.pmin(hi, f32x4.pmax(lo, f32x4.add(f32x4.nearest(f32x4.div(v128.load(p, 48), vs)), vz))));
    const h0 = i16x8.narrow_i32x4_s(r0, r1);
    const h1 = i16x8.narrow_i32x4_s(r2, r3);
    // Values are already inside [qmin, qmax], so the narrowing never saturates.
    v128.store(q + <usize>j, unsigned ? i8x16.narrow_i16x8_u(h0, h1) : i8x16.narrow_i16x8_s(h0, h1));
  }
  for (; j < cols; j++) {
    let v = nearest<f32>(load<f32>(x + (<usize>j << 2)) / scale) + zp;
    v = v < qmin ? qmin : (v > qmax ? qmax : v);
    store<i8>(q + <usize>j, <i8><i32>v);
  }
}

/** x float32 [rows, cols] -> q int8 (unsigned = 0) or uint8 (unsigned = 1). */
export function quant_s8_f32(x: usize, q: usize, rows: i32, cols: i32, scales: usize, zeroPoints: usize,
                             perChannel: i32, qmin: f32, qmax: f32, unsigned: i32): void {
  for (let r = 0; r < rows; r++) {
    const ch = perChannel ? <usize>r << 2 : 0;
    const scale = load<f32>(scales + ch);
    const zp = load<f32>(zeroPoints + ch);
    const xr = x + (<usize>r * <usize>cols << 2);
    const qr = q + <usize>r * <usize>cols;
    if (unsigned) quantRow(xr, qr, cols, scale, zp, qmin, qmax, true);
    else quantRow(xr, qr, cols, scale, zp, qmin, qmax, false);
  }
}

@inline function dequantRow(q: usize, x: usize, cols: i32, scale: f32, zp: f32, unsigned: bool): void {
  const vs = f32x4.splat(scale);
  const vz = f32x4.splat(zp);
  let j = 0;
  for (; j + 16 <= cols; j += 16) {
    const v = v128.load(q + <usize>j);
    const lo = unsigned ? i16x8.extend_low_i8x16_u(v) : i16x8.extend_low_i8x16_s(v);
    const hi = unsigned ? i16x8.extend_high_i8x16_u(v) : i16x8.extend_high_i8x16_s(v);
    const p = x + (<usize>j << 2);
    v128.store(p, f32x4.mul(f32x4.sub(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), vz), vs));
    v128.store(p, f32x4.mul(f32x4.sub(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), vz), vs), 16);
    v128.store(p, f32x4.mul(f32x4.sub(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), vz), vs), 32);
    v128.store(p, f32x4.mul(f32x4.sub(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), vz), vs), 48);
  }
  for (; j < cols; j++) {
    const v = unsigned ? <f32>load<u8>(q + <usize>j) : <f32>load<i8>(q + <usize>j);
    store<f32>(x + (<usize>j << 2), (v - zp) * scale);
  }
}

/** q int8/uint8 [rows, cols] -> x float32 = (q - zeroPoint) · scale. */
export function dequant_s8_f32(q: usize, x: usize, rows: i32, cols: i32, scales: usize, zeroPoints: usize,
                               perChannel: i32, unsigned: i32): void {
  for (let r = 0; r < rows; r++) {
    const ch = perChannel ? <usize>r << 2 : 0;
    const scale = load<f32>(scales + ch);
    const zp = load<f32>(zeroPoints + ch);
    const qr = q + <usize>r * <usize>cols;
    const xr = x + (<usize>r * <usize>cols << 2);
    if (unsigned) dequantRow(qr, xr, cols, scale, zp, true);
    else dequantRow(qr, xr, cols, scale, zp, false);
  }
}

/** out[r] = max |x[r, :]| (0 for an empty row); NaN is rejected by the host first. */
export function absmax_rows_f32(x: usize, rows: i32, cols: i32, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>cols << 2);
    let m = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= cols; j += 4) m = f32x4.pmax(m, f32x4.abs(v128.load(xr + (<usize>j << 2))));
    let s = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
    for (; j < cols; j++) s = max(s, Mathf.abs(load<f32>(xr + (<usize>j << 2))));
    store<f32>(out + (<usize>r << 2), s);
  }
}
