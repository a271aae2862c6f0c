import { composite, noGrad } from '../autograd/tape.js';
import { rejectNaN } from '../kernels/nan.js';
import { add, mul, round as plainRound, sub, tanh } from '../freeze/traced.js';
import { round as steRound } from '../ste/quantize.js';
import { checkFloat, describe } from '../tensor/checks.js';
import { tensor } from '../tensor/creation.js';
import { empty, rawF32, rawI32, type Tensor } from '../tensor/tensor.js';
import { checkCodeIndices, checkInputTensor } from './guard.js';
import { Module } from './module.js';

/** Most dimensions of an FSQ code, and the largest implicit codebook (indices are exact int32). */
export const FSQ_MAX_DIM = 32;
export const FSQ_MAX_CODES = 2 ** 30;

/** Keeps the bound's outer levels from reaching tanh's asymptotes (the paper's eps). */
const BOUND_EPS = 1e-3;

export interface FsqResult {
  /** The normalized codes in [−1, 1], z's shape; the gradient goes straight through the rounding (not through tanh's bound). */
  codes: Tensor;
  /** int32, z's shape without its last axis: the mixed-radix index Σ_i level_i · Π_{j<i} L_j of each code. */
  indices: Tensor;
}

/**
 * Finite scalar quantization (Mentzer et al., "Finite Scalar Quantization:
 * VQ-VAE Made Simple", 2023): each of the d = levels.length channels of z
 * [..., d] is bounded to L_i values and rounded, so the codebook is the
 * implicit grid of Π L_i points (no codebook to learn, no collapse, no
 * auxiliary loss). Channel i: h = ⌊L/2⌋, b = tanh(z + atanh(o/a))·a − o with
 * a = (L − 1)(1 − 1e-3)/2 and o = 0.5 for even L (0 for odd), then
 * round(b)/h: odd L gives {−1, …, 1} in steps 1/h, even L gives {−1, …, 1 − 1/h}.
 * The rounding is straight-through in training. No frozen stage of its own:
 * in eval mode its forward is the traced ops add, tanh, mul, sub, round, mul,
 * which freeze() replays as float op stages.
 */
export class FSQ extends Module {
  /**
   * The levels Mentzer et al. 2023 recommend (Table 1) for a target codebook
   * size 2^bits, keyed by bits; the products are 240, 1000, 4375, 15360, 64000.
   */
  static readonly recommendedLevels: Readonly<Record<8 | 10 | 12 | 14 | 16, readonly number[]>> = Object.freeze({
    8: Object.freeze([8, 6, 5]),
    10: Object.freeze([8, 5, 5, 5]),
    12: Object.freeze([7, 5, 5, 5, 5]),
    14: Object.freeze([8, 8, 8, 6, 5]),
    16: Object.freeze([8, 8, 8, 5, 5, 5]),
  });

  readonly levels: readonly number[];
  readonly dim: number;
  /** Π levels: the size of the implicit codebook. */
  readonly codebookSize: number;
  /** Π_{j<i} L_j: the weight of channel i's level in an index. */
  readonly basis: readonly number[];
  /** The bound's constants per channel, derived from the levels (buffers so that freeze() captures them; loadStateDict accepts only these values). */
  readonly #constants: Readonly<Record<'shift' | 'halfLevel' | 'offset' | 'invHalfWidth', Float32Array>>;

  constructor(levels: readonly number[]) {
    super();
    const op = 'FSQ';
    if (!Array.isArray(levels) || levels.length === 0 || levels.length > FSQ_MAX_DIM) {
      throw new Error(`${op}: levels must be an array of 1..${FSQ_MAX_DIM} integers >= 3 (e.g. [8, 5, 5, 5] for 1000 codes), got ${describe(levels)}`);
    }
    let size = 1;
    const basis: number[] = [];
    // Every entry is checked before any is used, so the size error below prints only integers.
    levels.forEach((L, i) => {
      // L = 2 has no bound with z = 0 between its two values (atanh(o/a) > 1): that channel is a sign, nn.LFQ's code.
      if (typeof L !== 'number' || !Number.isInteger(L) || L < 3) throw new Error(`${op}: levels[${i}] must be an integer >= 3 (the values that channel takes; for 2 values per channel use nn.LFQ), got ${describe(L)}`);
    });
    levels.forEach((L) => {
      basis.push(size);
      size *= L;
      if (size > FSQ_MAX_CODES) throw new Error(`${op}: levels [${levels}] give more than 2^30 codes (indices are int32); use fewer or smaller levels`);
    });
    this.levels = Object.freeze([...levels]);
    this.dim = levels.length;
    this.codebookSize = size;
    this.basis = Object.freeze(basis);
    const a = levels.map((L) => ((L - 1) * (1 - BOUND_EPS)) / 2);
    const o = levels.map((L) => (L % 2 === 0 ? 0.5 : 0));
    this.#constants = {
      // atanh(o/a) puts z = 0 on code 0 also for even L (the paper's listing writes tan, which only approximates it).
      shift: Float32Array.from(o, (oi, i) => Math.atanh(oi / a[i])),
      halfLevel: Float32Array.from(a),
      offset: Float32Array.from(o),
      invHalfWidth: Float32Array.from(levels, (L) => 1 / Math.floor(L / 2)),
    };
    for (const [name, values] of Object.entries(this.#constants)) this.registerBuffer(name, tensor(values));
  }

  protected override checkStateValue(name: string, value: Tensor, fullName = name): void {
    const want = (this.#constants as Record<string, Float32Array | undefined>)[name];
    if (want === undefined) return super.checkStateValue(name, value, fullName);
    const got = value.dataSync();
    if (got.length !== want.length || got.some((v, i) => v !== want[i])) {
      throw new Error(`loadStateDict: state["${fullName}"] is not the FSQ constant of levels [${this.levels}] (it comes from an FSQ with other levels); the model was left unchanged`);
    }
  }

  /** The normalized codes of z [..., dim] (see quantize for the indices). */
  forward(z: Tensor): Tensor {
    this.#check(z, 'FSQ.forward');
    return composite(() => this.#codes(z));
  }

  /** Codes and their indices. */
  quantize(z: Tensor): FsqResult {
    this.#check(z, 'FSQ.quantize');
    const codes = composite(() => this.#codes(z));
    return { codes, indices: noGrad(() => this.#indicesOf(codes)) };
  }

  /** int32 indices [...] of normalized codes [..., dim] (values on the grid, e.g. FSQ output). */
  codesToIndices(codes: Tensor): Tensor {
    const op = 'FSQ.codesToIndices';
    this.#checkConstants(op);
    checkFloat(codes, op, 'codes');
    this.#checkShape(codes, op, 'codes');
    const v = rawF32(codes);
    const hw = this.levels.map((L) => Math.floor(L / 2));
    for (let i = 0; i < v.length; i++) {
      const c = i % this.dim;
      // 1/h is rounded to float32 in the codes (h = 3: 0.33333334), so a level is a whole number only to ~1e-7.
      const level = v[i] * hw[c] + hw[c];
      if (!(Math.abs(level - Math.round(level)) < 1e-4 && Math.round(level) >= 0 && Math.round(level) < this.levels[c])) {
        throw new Error(`${op}: codes element ${i} (channel ${c}) is ${v[i]}, not one of channel ${c}'s ${this.levels[c]} values k/${hw[c]} for k in [${-hw[c]}, ${this.levels[c] - 1 - hw[c]}]`);
      }
    }
    return this.#indicesOf(codes);
  }

  /** Normalized codes float32 [..., dim] of int32 indices [...] in [0, codebookSize). */
  indicesToCodes(indices: Tensor): Tensor {
    const op = 'FSQ.indicesToCodes';
    checkCodeIndices(indices, op, this.codebookSize, () => `[0, ${this.codebookSize}) (levels [${this.levels}])`);
    const out = empty([...indices.shape, this.dim], 'float32');
    const ov = rawF32(out);
    const idx = rawI32(indices);
    for (let n = 0; n < idx.length; n++) {
      for (let c = 0; c < this.dim; c++) {
        const hw = Math.floor(this.levels[c] / 2);
        const level = Math.floor(idx[n] / this.basis[c]) % this.levels[c];
        // The forward's float32 product (level − h) · fround(1/h), so a round trip gives the same bits.
        ov[n * this.dim + c] = (level - hw) * Math.fround(1 / hw);
      }
    }
    return out;
  }

  inputWidth(): number {
    return this.dim;
  }

  #codes(z: Tensor): Tensor {
    const bounded = sub(mul(tanh(add(z, this.buffer('shift'))), this.buffer('halfLevel')), this.buffer('offset'));
    return mul(this.training ? steRound(bounded) : plainRound(bounded), this.buffer('invHalfWidth'));
  }

  #indicesOf(codes: Tensor): Tensor {
    const out = empty(codes.shape.slice(0, -1), 'int32');
    const cv = rawF32(codes);
    const ov = rawI32(out);
    for (let n = 0; n < out.size; n++) {
      let index = 0;
      for (let c = 0; c < this.dim; c++) {
        const hw = Math.floor(this.levels[c] / 2);
        index += Math.round(cv[n * this.dim + c] * hw + hw) * this.basis[c];
      }
      ov[n] = index;
    }
    return out;
  }

  #checkConstants(op: string): void {
    this.checkAlive(op);
  }

  #checkShape(x: Tensor, op: string, arg: string): void {
    if (x.rank === 0 || x.shape[x.rank - 1] !== this.dim) {
      throw new Error(`${op}: ${arg} must have shape [..., ${this.dim}] (one channel per level of [${this.levels}]), got [${x.shape}]`);
    }
  }

  #check(z: Tensor, op: string): void {
    checkInputTensor(z, 'FSQ', 'z');
    checkFloat(z, op, 'z');
    this.#checkShape(z, op, 'z');
    this.#checkConstants(op);
    rejectNaN(z, op, 'z');
  }
}
