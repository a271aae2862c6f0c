// Seeded random numbers computed inside wasm so that every runtime produces
// the same bits. Generator: xoshiro128** seeded through splitmix32; normals by
// Box-Muller with AssemblyScript's own Mathf (not the engine's Math).

let s0: u32 = 0;
let s1: u32 = 0;
let s2: u32 = 0;
let s3: u32 = 0;

function splitmix32(state: u32): u32 {
  let z = state + 0x9e3779b9;
  z = (z ^ (z >>> 16)) * 0x85ebca6b;
  z = (z ^ (z >>> 13)) * 0xc2b2ae35;
  return z ^ (z >>> 16);
}

export function rng_seed(seed: u32, stream: u32): void {
  let x = seed ^ (stream * 0x632be5ab);
  s0 = splitmix32(x); x += 0x9e3779b9;
  s1 = splitmix32(x); x += 0x9e3779b9;
  s2 = splitmix32(x); x += 0x9e3779b9;
  s3 = splitmix32(x);
  if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
}

@inline function next(): u32 {
  const result = rotl<u32>(s1 * 5, 7) * 9;
  const t = s1 << 9;
  s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
  s2 ^= t;
  s3 = rotl<u32>(s3, 11);
  return result;
}

// Uniform in [0, 1) with 24 random bits: exactly representable in f32.
@inline function uniform01(): f32 {
  return <f32>(next() >>> 8) * (1.0 / 16777216.0);
}

// The largest f32 below x (x finite).
@inline function nextDown(x: f32): f32 {
  if (x == 0) return -reinterpret<f32>(<u32>1);
  const bits = reinterpret<u32>(x);
  return reinterpret<f32>(x > 0 ? bits - 1 : bits + 1);
}

export function rng_uniform_f32(out: usize, n: i32, lo: f32, hi: f32): void {
  const span = hi - lo;
  // lo + span * u can round up to hi; the interval is half-open.
  const top = nextDown(hi);
  for (let i = 0; i < n; i++) store<f32>(out + (<usize>i << 2), min<f32>(lo + span * uniform01(), top));
}

export function rng_normal_f32(out: usize, n: i32, mean: f32, std: f32): void {
  let i = 0;
  while (i < n) {
    // 1 - u keeps the logarithm's argument in (0, 1].
    const u1 = <f32>1.0 - uniform01();
    const u2 = uniform01();
    const r = Mathf.sqrt(<f32>-2.0 * Mathf.log(u1));
    const theta = <f32>6.2831853071795864 * u2;
    store<f32>(out + (<usize>i << 2), mean + std * r * Mathf.cos(theta));
    i++;
    if (i < n) {
      store<f32>(out + (<usize>i << 2), mean + std * r * Mathf.sin(theta));
      i++;
    }
  }
}

// Integers uniform in [lo, hi) by rejection (no modulo bias).
export function rng_int_i32(out: usize, n: i32, lo: i32, hi: i32): void {
  const span = <u32>(hi - lo);
  const limit: u32 = span == 0 ? 0 : (<u32>0xffffffff - (<u32>0xffffffff % span + 1) % span);
  for (let i = 0; i < n; i++) {
    let r = next();
    while (r > limit) r = next();
    store<i32>(out + (<usize>i << 2), lo + <i32>(r % span));
  }
}

// Gumbel(0, 1) noise: -log(-log(u)) with u in (0, 1). 23 bits, so that
// k + 0.5 is exact in f32 and u never rounds to 1.
export function rng_gumbel_f32(out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const u = (<f32>(next() >>> 9) + <f32>0.5) * (1.0 / 8388608.0);
    store<f32>(out + (<usize>i << 2), -Mathf.log(-Mathf.log(u)));
  }
}
