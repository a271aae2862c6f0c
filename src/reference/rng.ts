/**
 * Scalar twin of assembly/rng.ts: xoshiro128** seeded through splitmix32,
 * in 32-bit unsigned arithmetic (Math.imul and >>> 0). One RngRef is one
 * generator state, like the kernel module's: successive draws continue the
 * same stream.
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

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class RngRef {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** rng_seed(seed, stream): the four state words are splitmix32 of seed ^ stream*0x632be5ab and its golden-ratio successors. */
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

  /** Uniform in [0, 1): the top 24 bits of one output times 2^-24 (exact in float32). */
  uniform01(): number {
    return (this.next() >>> 8) * INV_2_24;
  }

  /** rng_uniform_f32: lo + (hi - lo) * u in float32 arithmetic, capped at the largest float32 below hi. */
  uniformF32(n: number, lo: number, hi: number): Float32Array {
    const out = new Float32Array(n);
    const flo = f(lo);
    const fhi = f(hi);
    const span = f(fhi - flo);
    const top = nextDown32(fhi);
    for (let i = 0; i < n; i++) out[i] = Math.min(f(flo + f(span * this.uniform01())), top);
    return out;
  }

  /**
   * rng_normal_f32, Box-Muller: from u1 = 1 - u (in (0, 1]) and u2, r = sqrt(-2 log u1)
   * and theta = f32(2 pi) * u2 give mean + std*r*cos(theta) and then (if
   * another element is wanted) mean + std*r*sin(theta).
   */
  normalF32(n: number, mean: number, std: number): Float32Array {
    const out = new Float32Array(n);
    const fm = f(mean);
    const fs = f(std);
    let i = 0;
    while (i < n) {
      const u1 = f(1 - this.uniform01());
      const u2 = this.uniform01();
      const r = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
      const theta = f(TWO_PI_F32 * u2);
      out[i++] = f(fm + f(f(fs * r) * f(Math.cos(theta))));
      if (i < n) out[i++] = f(fm + f(f(fs * r) * f(Math.sin(theta))));
    }
    return out;
  }

  /**
   * rng_int_i32: integers uniform in [lo, hi) (span = hi - lo as uint32, > 0)
   * by rejection: outputs above the largest multiple of span minus one are
   * redrawn, the rest map to lo + r % span.
   */
  intI32(n: number, lo: number, hi: number): Int32Array {
    const out = new Int32Array(n);
    const span = (hi - lo) >>> 0;
    const limit = 0xffffffff - ((0xffffffff % span) + 1) % span;
    for (let i = 0; i < n; i++) {
      let r = this.next();
      while (r > limit) r = this.next();
      out[i] = (lo + (r % span)) | 0;
    }
    return out;
  }

  /** rng_gumbel_f32: -log(-log(u)) with u = (top 23 bits + 0.5) * 2^-23, exact in float32 and < 1. */
  gumbelF32(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const u = f(((this.next() >>> 9) + 0.5) / 8388608);
      out[i] = -f(Math.log(-f(Math.log(u))));
    }
    return out;
  }
}

/** The largest float32 below x (x a finite float32). */
function nextDown32(x: number): number {
  if (x === 0) return -1.401298464324817e-45;
  const buf = new Float32Array([x]);
  const bits = new Uint32Array(buf.buffer);
  bits[0] += x > 0 ? -1 : 1;
  return buf[0];
}
