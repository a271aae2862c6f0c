import { composite } from '../autograd/tape.js';
import { add, abs, div, exp, log, maximum, mul, sigmoid, sub, where, gt, neg } from '../ops/elementwise.js';
import { round as hardRound } from '../ops/discrete.js';
import { sum } from '../ops/reduce.js';
import { round as steRound } from '../ste/quantize.js';
import { RansDecoder, RansEncoder } from '../entropy/rans.js';
import { frequencyTable, type FrequencyTable } from '../entropy/tables.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { rand, tensor, zeros } from '../tensor/creation.js';
import { choiceOption, readOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Macs } from '../freeze/types.js';
import { checkInputTensor, checkStateRange } from './guard.js';
import { Module } from './module.js';

/**
 * How training stands in for rounding (Ballé et al. 2017/2018; Minnen & Singh 2020):
 * - 'noise': y + U(-1/2, 1/2) for the rate and for the decoder (differentiable, the classic relaxation);
 * - 'ste': round(y) with the straight-through gradient for both (trains what is deployed; biased gradient);
 * - 'mixed': noise for the rate, STE-rounded values for the decoder (the usual modern choice).
 * Evaluation always rounds.
 */
export type RoundingMode = 'noise' | 'ste' | 'mixed';

export interface EntropyBottleneckOptions {
  /** Default 'mixed'. */
  rounding?: RoundingMode;
}

export interface BottleneckResult {
  /** What the decoder gets: the quantized latents (or their training stand-in). */
  yHat: Tensor;
  /** The model's rate for the batch, in bits: -sum log2 p, a scalar with gradients to y and the density. */
  bits: Tensor;
}

/** Bits of tail mass left outside a channel's coding range (the escape symbol covers it). */
const TAIL = 14; // logistic scales: sigmoid(-14) ~ 8e-7
/** Most symbols in one channel's table (the range is clipped around the location beyond this). */
const MAX_SUPPORT = 4096;
/** Smallest likelihood in the rate: below it the gradient would explode for no coding benefit. */
const MIN_LIKELIHOOD = 1e-9;

/** The flat table coding an escaped value's 16-bit halves. */
let FLAT: FrequencyTable | null = null;
function flatTable(): FrequencyTable {
  FLAT ??= frequencyTable(new Array(65536).fill(1));
  return FLAT;
}

function logistic(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}

/** P(round(y) = k) under a logistic(loc, scale): the density integrated over [k - 1/2, k + 1/2], in float64, tail-stable. */
function massAt(k: number, loc: number, scale: number): number {
  const u = (k + 0.5 - loc) / scale;
  const l = (k - 0.5 - loc) / scale;
  return u + l > 0 ? logistic(-l) - logistic(-u) : logistic(u) - logistic(l);
}

interface ChannelCode {
  lo: number;
  hi: number;
  table: FrequencyTable;
}

/**
 * A factorized entropy model (Ballé et al. 2018, "variational image
 * compression with a scale hyperprior", the factorized prior) with a learned
 * logistic density per channel: each channel c of y [..., C] has a location
 * and a log-scale, and the rate of a quantized value k is
 * -log2 ∫_{k-1/2}^{k+1/2} logistic(loc_c, scale_c), the likelihood the uniform
 * noise relaxation trains. compress()/decompress() code integer latents with
 * rANS using exactly that model, quantized to 16-bit frequency tables; values
 * outside a channel's table range go through an escape symbol and two flat
 * 16-bit symbols, so decoding always returns exactly the quantized latents.
 */
export class EntropyBottleneck extends Module {
  readonly rounding: RoundingMode;

  constructor(readonly channels: number, options: EntropyBottleneckOptions | null = {}) {
    super();
    const op = 'EntropyBottleneck';
    checkNumber(channels, op, 'channels', { integer: true, min: 1, max: 2 ** 16 });
    const o = readOptions<EntropyBottleneckOptions>(options, op);
    this.rounding = choiceOption(o.rounding, op, 'rounding', ['noise', 'ste', 'mixed'] as const, 'mixed');
    this.registerParameter('loc', zeros([channels]));
    this.registerParameter('logScale', zeros([channels]));
  }

  protected override checkStateValue(name: string, value: Tensor, fullName = name): void {
    checkStateRange(value, 'EntropyBottleneck', fullName);
    super.checkStateValue(name, value, fullName);
  }

  get loc(): Tensor {
    return this.param('loc');
  }

  get logScale(): Tensor {
    return this.param('logScale');
  }

  private checkY(y: Tensor, op: string): void {
    checkInputTensor(y, op, 'y');
    checkFloat(y, op, 'y');
    if (y.rank === 0 || y.shape[y.rank - 1] !== this.channels) {
      throw new Error(`${op}: y must have shape [..., ${this.channels}] (channels on the last axis), got [${y.shape}]`);
    }
    this.checkAlive(op);
  }

  /** The decoder's input only (use quantize() for the rate as well). */
  forward(y: Tensor): Tensor {
    return composite(() => this.quantize(y).yHat);
  }

  /** -sum log2 P(v) for values v [..., C] under the per-channel model, differentiable in v, loc and logScale. */
  private rate(v: Tensor): Tensor {
    const scale = exp(this.logScale);
    const centered = sub(v, this.loc);
    const upper = div(add(centered, 0.5), scale);
    const lower = div(sub(centered, 0.5), scale);
    // sigmoid(u) - sigmoid(l) loses all precision in the upper tail; there sigmoid(-l) - sigmoid(-u) is the same mass.
    const upperTail = gt(add(upper, lower), 0);
    const p = where(upperTail, sub(sigmoid(neg(lower)), sigmoid(neg(upper))), sub(sigmoid(upper), sigmoid(lower)));
    return mul(sum(log(maximum(abs(p), MIN_LIKELIHOOD))), -1 / Math.LN2);
  }

  /** The bottleneck: the decoder's input and the rate in bits, by the layer's rounding mode (training) or by rounding (eval). */
  quantize(y: Tensor): BottleneckResult {
    const op = 'EntropyBottleneck.quantize';
    this.checkY(y, op);
    if (!this.training || this.rounding === 'ste') {
      const round = this.training ? steRound : hardRound;
      const yHat = round(y);
      return { yHat, bits: composite(() => this.rate(round(y))) };
    }
    // One noise draw serves the rate and (in 'noise' mode) the decoder's input.
    const noise = rand([...y.shape], { low: -0.5, high: 0.5 });
    try {
      const yHat = this.rounding === 'noise' ? add(y, noise) : steRound(y);
      return { yHat, bits: composite(() => this.rate(add(y, noise))) };
    } finally {
      noise.dispose();
    }
  }

  /** Per-channel coding tables from the current density (float64 masses, 16-bit frequencies, escape last). */
  private codes(): ChannelCode[] {
    const loc = this.loc.dataSync();
    const scale = Array.from(this.logScale.dataSync(), (v) => Math.fround(Math.exp(v)));
    const out: ChannelCode[] = [];
    for (let c = 0; c < this.channels; c++) {
      const s = scale[c];
      let lo = Math.floor(loc[c] - TAIL * s);
      let hi = Math.ceil(loc[c] + TAIL * s);
      if (hi - lo + 1 > MAX_SUPPORT - 1) {
        lo = Math.round(loc[c]) - (MAX_SUPPORT >> 1) + 1;
        hi = lo + MAX_SUPPORT - 2;
      }
      const masses: number[] = [];
      let inside = 0;
      for (let k = lo; k <= hi; k++) {
        const m = massAt(k, loc[c], s);
        masses.push(m);
        inside += m;
      }
      masses.push(Math.max(0, 1 - inside)); // escape
      out.push({ lo, hi, table: frequencyTable(masses) });
    }
    return out;
  }

  private integerLatents(y: Tensor, op: string): Float32Array {
    const v = hardRound(y);
    const data = v.dataSync() as Float32Array;
    v.dispose();
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]) || Math.abs(data[i]) >= 2 ** 31) {
        throw new Error(`${op}: y[${i}] rounds to ${data[i]}; latents must be finite and below 2^31 in magnitude to be coded`);
      }
    }
    return data;
  }

  /**
   * Rounds y [..., C] and codes it with rANS into one stream (every element, in
   * row-major order, channel by channel). decompress(stream, y.shape) gives
   * round(y) back exactly.
   */
  compress(y: Tensor): Uint8Array {
    const op = 'EntropyBottleneck.compress';
    this.checkY(y, op);
    const values = this.integerLatents(y, op);
    const codes = this.codes();
    const enc = new RansEncoder();
    const flat = flatTable();
    for (let i = 0; i < values.length; i++) {
      const { lo, hi, table } = codes[i % this.channels];
      const v = values[i];
      if (v >= lo && v <= hi) {
        enc.put(v - lo, table);
      } else {
        enc.put(hi - lo + 1, table);
        const biased = v + 2 ** 31;
        enc.put(Math.floor(biased / 65536), flat);
        enc.put(biased % 65536, flat);
      }
    }
    return enc.finish();
  }

  /** Decodes a stream from compress() with the same weights into the float32 latents [...shape]. */
  decompress(stream: Uint8Array, shape: number[]): Tensor {
    const op = 'EntropyBottleneck.decompress';
    this.checkAlive(op);
    if (!Array.isArray(shape) || shape.length === 0 || shape[shape.length - 1] !== this.channels || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`${op}: shape must be [..., ${this.channels}] (the shape of the compressed y), got ${describe(shape)}`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (n > 2 ** 28) throw new Error(`${op}: shape [${shape}] has ${n} elements; at most 2^28 can be decoded`);
    const codes = this.codes();
    const flat = flatTable();
    const out = new Float32Array(n);
    try {
      const dec = new RansDecoder(stream);
      for (let i = 0; i < n; i++) {
        const { lo, hi, table } = codes[i % this.channels];
        const s = dec.get(table);
        out[i] = s <= hi - lo ? lo + s : dec.get(flat) * 65536 + dec.get(flat) - 2 ** 31;
      }
      dec.finish();
    } catch (e) {
      throw new Error(`${op}: stream does not hold ${n} latents of shape [${shape}] coded by this model (${(e as Error).message})`);
    }
    return tensor(out, shape);
  }

  /** The model's rate for round(y) in bits, in float64: what compress() should come within a fraction of a percent of. */
  estimateBits(y: Tensor): number {
    const op = 'EntropyBottleneck.estimateBits';
    this.checkY(y, op);
    const values = this.integerLatents(y, op);
    const loc = this.loc.dataSync();
    const scale = Array.from(this.logScale.dataSync(), (v) => Math.fround(Math.exp(v)));
    let bits = 0;
    for (let i = 0; i < values.length; i++) {
      const c = i % this.channels;
      bits -= Math.log2(Math.max(massAt(values[i], loc[c], scale[c]), MIN_LIKELIHOOD));
    }
    return bits;
  }

  summaryMacs(): Macs {
    return { binary: 0, binaryWeights: 0, int8: 0, float: 0 };
  }

  inputWidth(): number {
    return this.channels;
  }
}
