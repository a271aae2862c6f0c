// Bit packing of ±1 values (binarize-and-pack). Scalar twin: src/reference/bitpack.ts.
//
// Packed format (the one definition; gemm_b1.ts reads it):
//   bit = 1 means -1 (x < 0), bit = 0 means +1 (x >= 0, so 0 and -0 -> +1);
//   element j of a row is bit (j % 32) of 32-bit word floor(j / 32);
//   a row of k values occupies `words` = ceil(k / 128) * 4 words (whole v128
//   chunks); bits past k are 0, so they cancel in popcount(a XOR b).

// Bits of 16 floats at p: four compares narrowed to one byte mask each.
@inline function signBits16(p: usize): v128 {
  const zero = f32x4.splat(0);
  const v0 = v128.load(p);
  const v1 = v128.load(p, 16);
  const v2 = v128.load(p, 32);
  const v3 = v128.load(p, 48);
  const lo = i16x8.narrow_i32x4_s(f32x4.lt(v0, zero), f32x4.lt(v1, zero));
  const hi = i16x8.narrow_i32x4_s(f32x4.lt(v2, zero), f32x4.lt(v3, zero));
  return i8x16.narrow_i16x8_s(lo, hi);
}

// Lanes are -1 where v is NaN; adding them counts NaNs (negated).
@inline function nanLanes(p: usize): v128 {
  const v0 = v128.load(p);
  const v1 = v128.load(p, 16);
  const v2 = v128.load(p, 32);
  const v3 = v128.load(p, 48);
  return i32x4.add(i32x4.add(f32x4.ne(v0, v0), f32x4.ne(v1, v1)), i32x4.add(f32x4.ne(v2, v2), f32x4.ne(v3, v3)));
}

/**
 * Packs float32 rows x[rows, k] (row-major) into out[rows, words] u32 words.
 * Also the fused binarize-and-pack of activations on the forward path.
 * Returns the number of NaNs seen (NaN has no sign: the host rejects it).
 */
export function pack_bits_f32(x: usize, rows: i32, k: i32, out: usize, words: i32): i32 {
  let nanCount = i32x4.splat(0);
  let nanScalar = 0;
  const full = k >> 5;
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>k << 2);
    const or = out + (<usize>r * <usize>words << 2);
    for (let w = 0; w < full; w++) {
      const p = xr + (<usize>w << 7);
      const lo = <u32>i8x16.bitmask(signBits16(p));
      const hi = <u32>i8x16.bitmask(signBits16(p + 64));
      nanCount = i32x4.sub(nanCount, i32x4.add(nanLanes(p), nanLanes(p + 64)));
      store<u32>(or + (<usize>w << 2), lo | (hi << 16));
    }
    let w = full;
    const rest = k & 31;
    if (rest != 0) {
      let bits: u32 = 0;
      const p = xr + (<usize>full << 7);
      for (let j = 0; j < rest; j++) {
        const v = load<f32>(p + (<usize>j << 2));
        if (v < 0) bits |= <u32>1 << j;
        if (v != v) nanScalar++;
      }
      store<u32>(or + (<usize>w << 2), bits);
      w++;
    }
    if (w < words) memory.fill(or + (<usize>w << 2), 0, <usize>(words - w) << 2);
  }
  return nanScalar + i32x4.extract_lane(nanCount, 0) + i32x4.extract_lane(nanCount, 1) +
    i32x4.extract_lane(nanCount, 2) + i32x4.extract_lane(nanCount, 3);
}

/**
 * Number of rows of bits[rows, words] with a 1 bit at element >= k (padding
 * must be 0 or it would count in every dot product).
 */
export function bits_padding_violations(bits: usize, rows: i32, words: i32, k: i32): i32 {
  const fullWords = k >> 5;
  const rest = k & 31;
  let bad = 0;
  for (let r = 0; r < rows; r++) {
    const row = bits + (<usize>r * <usize>words << 2);
    let acc: u32 = 0;
    let w = fullWords;
    if (rest != 0) {
      acc = load<u32>(row + (<usize>w << 2)) >>> <u32>rest;
      w++;
    }
    for (; w < words; w++) acc |= load<u32>(row + (<usize>w << 2));
    if (acc != 0) bad++;
  }
  return bad;
}
