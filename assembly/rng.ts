// Seeded random numbers computed inside wasm so that every runtime produces
// the same bits. Generator: xoshiro128** seeded through splitmix32; normals by
// Box-Muller with AssemblyScript's own Mathf (not the engine's Math).
//
// Counter-based contract: every kernel takes (seed, stream, offset) and keeps
// the generator in a local, so no state survives a call and any number of
// threads can fill pieces of one tensor. (seed, stream) fixes a sequence of
// 32-bit draws; `offset` is the index of the first draw this call uses (see
// each kernel for how values map to draws) and each kernel returns the index
// of the first draw it did not use. Reaching `offset` costs one generator
// step per skipped draw below JUMP_MIN, and a jump of O(log offset) work
// above it (see jump), so any offset up to 2^53 is cheap.

function splitmix32(state: u32): u32 {
  let z = state + 0x9e3779b9;
  z = (z ^ (z >>> 16)) * 0x85ebca6b;
  z = (z ^ (z >>> 13)) * 0xc2b2ae35;
  return z ^ (z >>> 16);
}

// The state words s0..s3 live in the lanes of one v128, so that a step is a
// value (a function of the old state) and each kernel holds its own copy.
// One xoshiro128** step, s1 ^= s2 ^= s0 etc. written lane-parallel:
//   s0' = s0 ^ s1 ^ s3, s1' = s0 ^ s1 ^ s2, s2' = s0 ^ s2 ^ (s1 << 9), s3' = rotl(s1 ^ s3, 11).
@inline function step(s: v128): v128 {
  const a = v128.xor(s, i32x4.shuffle(s, s, 1, 0, 0, 1));
  const b = i32x4.shuffle(s, i32x4.shl(s, 9), 3, 2, 5, 3);
  const d = v128.xor(a, b);
  const r = v128.or(i32x4.shl(a, 11), i32x4.shr_u(a, 21));
  return i32x4.shuffle(d, r, 0, 1, 2, 7);
}

// The output of the current state (the draw), before the step.
@inline function draw(s: v128): u32 {
  return rotl<u32>(<u32>i32x4.extract_lane(s, 1) * 5, 7) * 9;
}

// Jump-ahead. A step is a linear map T on the 128 state bits (over GF(2)),
// with characteristic polynomial p(x) = x^128 + P (P below: bit i is the
// coefficient of x^i; found by Berlekamp-Massey on one state bit's sequence,
// and checked by the tests against stepping). By Cayley-Hamilton,
// T^n = r(T) with r(x) = x^n mod p(x), so n steps are the XOR of the states
// T^i s for the bits i set in r: 128 steps plus about 2 log2(n) products of
// polynomials mod p, instead of n steps.
const P_LO: u64 = 0x1b489db6de18fc01;
const P_HI: u64 = 0x00fc65a2006254b1;
// Below this many draws, stepping is faster than jumping.
const JUMP_MIN: u64 = 1 << 11;

// a(x) * x mod p(x), polynomials of degree < 128 as i64x2 lanes [bits 0..63, bits 64..127].
@inline function timesX(a: v128): v128 {
  const carryIn = i64x2.shuffle(i64x2.splat(0), i64x2.shr_u(a, 63), 0, 2);
  const shifted = v128.or(i64x2.shl(a, 1), carryIn);
  const out = <u64>i64x2.extract_lane(a, 1) >>> 63;
  return out != 0 ? v128.xor(shifted, i64x2.replace_lane(i64x2.splat(<i64>P_LO), 1, <i64>P_HI)) : shifted;
}

// a(x) * b(x) mod p(x), Horner over the bits of b from the top.
function mulMod(a: v128, b: v128): v128 {
  let acc = i64x2.splat(0);
  for (let lane = 1; lane >= 0; lane--) {
    const w = <u64>(lane == 1 ? i64x2.extract_lane(b, 1) : i64x2.extract_lane(b, 0));
    for (let i = 63; i >= 0; i--) {
      acc = timesX(acc);
      if (((w >>> <u64>i) & 1) != 0) acc = v128.xor(acc, a);
    }
  }
  return acc;
}

// The state n steps after s, for any n.
function jump(s: v128, n: u64): v128 {
  // r = x^n mod p by square-and-multiply over the bits of n from the top.
  let r = i64x2.replace_lane(i64x2.splat(0), 0, 1);
  for (let i = 63 - <i32>clz<u64>(n); i >= 0; i--) {
    r = mulMod(r, r);
    if (((n >>> <u64>i) & 1) != 0) r = timesX(r);
  }
  let acc = i32x4.splat(0);
  let cur = s;
  for (let lane = 0; lane < 2; lane++) {
    const w = <u64>(lane == 0 ? i64x2.extract_lane(r, 0) : i64x2.extract_lane(r, 1));
    for (let i = 0; i < 64; i++) {
      if (((w >>> <u64>i) & 1) != 0) acc = v128.xor(acc, cur);
      cur = step(cur);
    }
  }
  return acc;
}

// The state after `offset` draws of stream (seed, stream).
function start(seed: u32, stream: u32, offset: u64): v128 {
  let x = seed ^ (stream * 0x632be5ab);
  let s0 = splitmix32(x); x += 0x9e3779b9;
  const s1 = splitmix32(x); x += 0x9e3779b9;
  const s2 = splitmix32(x); x += 0x9e3779b9;
  const s3 = splitmix32(x);
  if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
  let s = i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(s0), 1, s1), 2, s2), 3, s3);
  if (offset >= JUMP_MIN) return jump(s, offset);
  for (let k: u64 = 0; k < offset; k++) s = step(s);
  return s;
}

// Uniform in [0, 1) with 24 random bits: exactly representable in f32.
@inline function uniform01(r: u32): f32 {
  return <f32>(r >>> 8) * (1.0 / 16777216.0);
}

// The largest f32 below x (x finite).
@inline function nextDown(x: f32): f32 {
  if (x == 0) return -reinterpret<f32>(<u32>1);
  const bits = reinterpret<u32>(x);
  return reinterpret<f32>(x > 0 ? bits - 1 : bits + 1);
}

// Value i is drawn from draw offset + i.
export function rng_uniform_f32(out: usize, n: i32, seed: u32, stream: u32, offset: f64, lo: f32, hi: f32): f64 {
  let s = start(seed, stream, <u64>offset);
  const span = hi - lo;
  // lo + span * u can round up to hi; the interval is half-open.
  const top = nextDown(hi);
  if (isFinite(span)) {
    for (let i = 0; i < n; i++) {
      store<f32>(out + (<usize>i << 2), min<f32>(lo + span * uniform01(draw(s)), top));
      s = step(s);
    }
  } else {
    // hi - lo overflows f32 only when |lo| and hi are both huge; then halving is exact and nothing overflows.
    const half = hi * 0.5 - lo * 0.5;
    const lo2 = lo * 0.5;
    for (let i = 0; i < n; i++) {
      store<f32>(out + (<usize>i << 2), min<f32>((lo2 + half * uniform01(draw(s))) * 2, top));
      s = step(s);
    }
  }
  return offset + <f64>n;
}

// Box-Muller pairs: values 2k and 2k + 1 of the stream are the cosine and the
// sine half of the pair drawn from draws 2k and 2k + 1. An odd offset starts
// with the sine half; an odd end drops the last sine. Returns the first draw
// after the last pair used.
export function rng_normal_f32(out: usize, n: i32, seed: u32, stream: u32, offset: f64, mean: f32, std: f32): f64 {
  if (n <= 0) return offset;
  const first = <u64>offset;
  let s = start(seed, stream, first & ~(<u64>1));
  let i = 0;
  let skipCos = (first & 1) != 0;
  while (i < n) {
    // 1 - u keeps the logarithm's argument in (0, 1].
    const u1 = <f32>1.0 - uniform01(draw(s));
    s = step(s);
    const u2 = uniform01(draw(s));
    s = step(s);
    const r = Mathf.sqrt(<f32>-2.0 * Mathf.log(u1));
    const theta = <f32>6.2831853071795864 * u2;
    if (!skipCos) {
      store<f32>(out + (<usize>i << 2), mean + std * r * Mathf.cos(theta));
      i++;
    }
    skipCos = false;
    if (i < n) {
      store<f32>(out + (<usize>i << 2), mean + std * r * Mathf.sin(theta));
      i++;
    }
  }
  return <f64>((first + <u64>n + 1) & ~(<u64>1));
}

// Integers uniform in [lo, hi) by rejection (no modulo bias): a value takes
// one draw, plus one per rejected draw (probability < 1/2 each, almost 0 for
// small spans). Returns offset + the draws used, where the next piece starts.
export function rng_int_i32(out: usize, n: i32, seed: u32, stream: u32, offset: f64, lo: i32, hi: i32): f64 {
  const first = <u64>offset;
  let s = start(seed, stream, first);
  const span = <u32>(hi - lo);
  const limit: u32 = span == 0 ? 0 : (<u32>0xffffffff - (<u32>0xffffffff % span + 1) % span);
  let used: u64 = 0;
  for (let i = 0; i < n; i++) {
    let r = draw(s);
    s = step(s);
    used++;
    while (r > limit) {
      r = draw(s);
      s = step(s);
      used++;
    }
    store<i32>(out + (<usize>i << 2), lo + <i32>(r % span));
  }
  return <f64>(first + used);
}

// Gumbel(0, 1) noise: -log(-log(u)) with u in (0, 1). 23 bits, so that
// k + 0.5 is exact in f32 and u never rounds to 1. Value i is drawn from draw
// offset + i.
export function rng_gumbel_f32(out: usize, n: i32, seed: u32, stream: u32, offset: f64): f64 {
  let s = start(seed, stream, <u64>offset);
  for (let i = 0; i < n; i++) {
    const u = (<f32>(draw(s) >>> 9) + <f32>0.5) * (1.0 / 8388608.0);
    store<f32>(out + (<usize>i << 2), -Mathf.log(-Mathf.log(u)));
    s = step(s);
  }
  return offset + <f64>n;
}
