/**
 * Scalar twin of assembly/rng.ts: xoshiro128** seeded through splitmix32,
 * in 32-bit unsigned arithmetic (Math.imul and >>> 0). The same explicit
 * contract as the kernels: (seed, stream) fixes a sequence of 32-bit draws,
 * `offset` is the first draw a fill uses, and each fill reports the first
 * draw it did not use.
 */

const f = Math.fround;
const GOLDEN = 0x9e3779b9;
const TWO_PI_F32 = f(6.2831853071795864);
const INV_2_24 = 1 / 16777216;

function splitmix32(state: number): number {
  let z = (state + GOLDEN) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** The characteristic polynomial of the xoshiro128 step (degree 128), as in assembly/rng.ts. */
const CHAR_POLY = (1n << 128n) | 0x00fc65a2006254b1_1b489db6de18fc01n;

/** a * b mod CHAR_POLY over GF(2): carry-less product, then reduction from the top bit down. */
function mulMod(a: bigint, b: bigint): bigint {
  let prod = 0n;
  for (let i = 0n; b >> i; i++) if ((b >> i) & 1n) prod ^= a << i;
  for (let bit = 255n; bit >= 128n; bit--) if ((prod >> bit) & 1n) prod ^= CHAR_POLY << (bit - 128n);
  return prod;
}

/** x^n mod CHAR_POLY by square-and-multiply. */
function xPowMod(n: bigint): bigint {
  let r = 1n;
  for (let i = BigInt(n.toString(2).length - 1); i >= 0n; i--) {
    r = mulMod(r, r);
    if ((n >> i) & 1n) r = mulMod(r, 2n);
  }
  return r;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** One xoshiro128** generator at the start of stream (seed, stream), stepped one 32-bit draw at a time. */
export class Xoshiro128Ref {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** The four state words are splitmix32 of seed ^ stream*0x632be5ab and its golden-ratio successors. */
  constructor(seed: number, stream: number) {
    let x = ((seed >>> 0) ^ Math.imul(stream >>> 0, 0x632be5ab)) >>> 0;
    this.s0 = splitmix32(x); x = (x + GOLDEN) >>> 0;
    this.s1 = splitmix32(x); x = (x + GOLDEN) >>> 0;
    this.s2 = splitmix32(x); x = (x + GOLDEN) >>> 0;
    this.s3 = splitmix32(x);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next 32-bit output (unsigned). */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Discards `count` draws, one step at a time (the definition). */
  skip(count: number): this {
    for (let k = 0; k < count; k++) this.next();
    return this;
  }

  /**
   * Discards `count` draws by jumping, like the kernels for large offsets:
   * a step is a linear map T on the 128 state bits over GF(2) with
   * characteristic polynomial p, so T^count = r(T) with r = x^count mod p, and
   * the new state is the XOR of the states T^i s for the bits i set in r.
   * Polynomials are BigInts (bit i = coefficient of x^i).
   */
  jump(count: number): this {
    const r = xPowMod(BigInt(count));
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (let i = 0n; i < 128n; i++) {
      if ((r >> i) & 1n) {
        a0 ^= this.s0; a1 ^= this.s1; a2 ^= this.s2; a3 ^= this.s3;
      }
      this.next();
    }
    this.s0 = a0 >>> 0; this.s1 = a1 >>> 0; this.s2 = a2 >>> 0; this.s3 = a3 >>> 0;
    return this;
  }

  /** Reaches draw `count`: stepping up to 2^20 draws (so tests compare the kernels' jumps with plain steps), jumping beyond. */
  advance(count: number): this {
    return count <= 2 ** 20 ? this.skip(count) : this.jump(count);
  }

  /** Uniform in [0, 1): the top 24 bits of one output times 2^-24 (exact in float32). */
  uniform01(): number {
    return (this.next() >>> 8) * INV_2_24;
  }
}

/** The values of one fill and the index of the first draw it did not use (the kernels' return value). */
export interface RngFillRef<T> {
  values: T;
  end: number;
}

/**
 * rng_uniform_f32: value i from draw offset + i, lo + (hi - lo) * u in float32
 * arithmetic, capped at the largest float32 below hi. When hi - lo overflows
 * float32, (lo/2 + (hi/2 - lo/2) * u) * 2 instead (exact halving: both ends are huge).
 */
export function rngUniformF32Ref(n: number, seed: number, stream: number, offset: number, lo: number, hi: number): RngFillRef<Float32Array> {
  const g = new Xoshiro128Ref(seed, stream).advance(offset);
  const out = new Float32Array(n);
  const flo = f(lo);
  const fhi = f(hi);
  const span = f(fhi - flo);
  const top = nextDown32(fhi);
  if (Number.isFinite(span)) {
    for (let i = 0; i < n; i++) out[i] = Math.min(f(flo + f(span * g.uniform01())), top);
  } else {
    const half = f(f(fhi * 0.5) - f(flo * 0.5));
    const lo2 = f(flo * 0.5);
    for (let i = 0; i < n; i++) out[i] = Math.min(f(f(lo2 + f(half * g.uniform01())) * 2), top);
  }
  return { values: out, end: offset + n };
}

/**
 * rng_normal_f32, Box-Muller: pair k comes from draws 2k and 2k + 1: u1 = 1 - u
 * (in (0, 1]) and u2 give r = sqrt(-2 log u1), theta = f32(2 pi) * u2, and
 * stream values 2k = mean + std*r*cos(theta), 2k + 1 = mean + std*r*sin(theta).
 * A fill returns stream values offset .. offset + n - 1; end is the first draw
 * after its last pair.
 */
export function rngNormalF32Ref(n: number, seed: number, stream: number, offset: number, mean: number, std: number): RngFillRef<Float32Array> {
  const out = new Float32Array(n);
  if (n === 0) return { values: out, end: offset };
  const first = offset - (offset % 2);
  const g = new Xoshiro128Ref(seed, stream).advance(first);
  const fm = f(mean);
  const fs = f(std);
  for (let v = first; v < offset + n; v += 2) {
    const u1 = f(1 - g.uniform01());
    const u2 = g.uniform01();
    const r = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
    const theta = f(TWO_PI_F32 * u2);
    if (v >= offset) out[v - offset] = f(fm + f(f(fs * r) * f(Math.cos(theta))));
    if (v + 1 < offset + n) out[v + 1 - offset] = f(fm + f(f(fs * r) * f(Math.sin(theta))));
  }
  return { values: out, end: offset + n + ((offset + n) % 2) };
}

/**
 * rng_int_i32: integers uniform in [lo, hi) (span = hi - lo as uint32, > 0)
 * by rejection, starting at draw offset: draws above the largest multiple of
 * span minus one are discarded, the rest map to lo + r % span. end = offset +
 * the draws used (kept and discarded).
 */
export function rngIntI32Ref(n: number, seed: number, stream: number, offset: number, lo: number, hi: number): RngFillRef<Int32Array> {
  const g = new Xoshiro128Ref(seed, stream).advance(offset);
  const out = new Int32Array(n);
  const span = (hi - lo) >>> 0;
  const limit = 0xffffffff - ((0xffffffff % span) + 1) % span;
  let used = 0;
  for (let i = 0; i < n; i++) {
    let r = g.next();
    used++;
    while (r > limit) {
      r = g.next();
      used++;
    }
    out[i] = (lo + (r % span)) | 0;
  }
  return { values: out, end: offset + used };
}

/** rng_gumbel_f32: value i from draw offset + i, -log(-log(u)) with u = (top 23 bits + 0.5) * 2^-23, exact in float32 and < 1. */
export function rngGumbelF32Ref(n: number, seed: number, stream: number, offset: number): RngFillRef<Float32Array> {
  const g = new Xoshiro128Ref(seed, stream).advance(offset);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = f(((g.next() >>> 9) + 0.5) / 8388608);
    out[i] = -f(Math.log(-f(Math.log(u))));
  }
  return { values: out, end: offset + n };
}

/** The largest float32 below x (x a finite float32). */
function nextDown32(x: number): number {
  if (x === 0) return -1.401298464324817e-45;
  const buf = new Float32Array([x]);
  const bits = new Uint32Array(buf.buffer);
  bits[0] += x > 0 ? -1 : 1;
  return buf[0];
}
