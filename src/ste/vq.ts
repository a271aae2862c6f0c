import { composite, noGrad, record, saveOn } from '../autograd/tape.js';
import { stopGradient } from '../autograd/custom.js';
import { nearestCodes } from '../kernels/vq.js';
import { rngGumbelF32 } from '../kernels/rng.js';
import { add, affine, div, sqrt, square, sub } from '../ops/elementwise.js';
import { mse } from '../ops/losses.js';
import { matmul } from '../ops/matmul.js';
import { argmax, min, sum } from '../ops/reduce.js';
import { gather, reshape } from '../ops/shape.js';
import { f32Affine } from '../kernels/elementwise.js';
import { checkFloat, checkNumber, checkRank } from '../tensor/checks.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { randomDraw, Stream, type RandomDraw } from '../tensor/random.js';
import { disposeOnThrow, tidy } from '../tensor/scope.js';
import { empty, rawF32, type Tensor } from '../tensor/tensor.js';
import { identityGrad } from './straight.js';

export interface VqOptions {
  /** Weight of the commitment loss (default 0.25, as in VQ-VAE). */
  beta?: number;
  /**
   * The rotation trick (Fifty et al., ICLR 2025): the gradient reaches z through
   * q̃ = sg(‖q‖/‖z‖ · R) z, R the rotation taking z's direction to q's, instead
   * of straight through; the forward value is still the code q (default false).
   */
  rotationTrick?: boolean;
  /** Cosine-similarity codebook: rows of z and of the codebook are l2-normalized and the nearest code is the most similar one (default false). */
  cosine?: boolean;
  /**
   * Sample each code from softmax(−‖z − c_k‖² / temperature) instead of taking the nearest
   * (default 0: the nearest, by vqNearest). Draws come from the Gumbel stream (`seed`).
   */
  temperature?: number;
  /** This call's own seed for the sampling noise (temperature > 0); leave it out to draw from the default generator. */
  seed?: number;
}

export interface VqResult {
  /** The chosen codebook rows, passing their gradient to z (straight through, or rotated with rotationTrick), not to the codebook. */
  zq: Tensor;
  /** int32 [N]: the codebook row of each z row (nearest by squared L2, lowest index on ties; or sampled with temperature > 0). */
  indices: Tensor;
  /** beta * mean((z - stopGradient(codes))^2): pulls the encoder toward its codes. */
  commitmentLoss: Tensor;
  /** mean((stopGradient(z) - codes)^2): the only path by which the codebook is trained. */
  codebookLoss: Tensor;
}

/** Squared norms below this count as 0 in l2Normalize (F.normalize's eps = 1e-12, squared). */
const NORM_EPS2 = 1e-24;

/** Rows divided by sqrt(‖row‖² + 1e-24): unit rows, and a zero row stays 0 with a finite gradient. */
export function l2Normalize(x: Tensor): Tensor {
  return composite(() => div(x, sqrt(add(sum(square(x), { axis: -1, keepDims: true }), NORM_EPS2))));
}

/**
 * VQ-VAE quantization of z [N, D] against codebook [K, D]. Losses are means
 * over all N·D elements (as F.mse_loss), not sums. With cosine, z, the codes
 * and the losses are those of the l2-normalized rows.
 */
export function vq(z: Tensor, codebook: Tensor, options: VqOptions | null = {}): VqResult {
  const op = 'ste.vq';
  checkFloat(z, op, 'z');
  checkFloat(codebook, op, 'codebook');
  checkRank(z, op, 'z', 2);
  checkRank(codebook, op, 'codebook', 2);
  const o = readOptions<VqOptions>(options, op);
  const beta = checkNumber(o.beta ?? 0.25, op, 'beta', { min: 0, f32: true });
  // beta scales the loss in float32: a nonzero beta below the normal range would round to 0 or lose its digits.
  if (beta > 0 && beta < 2 ** -126) throw new Error(`${op}: beta = ${beta} must be 0 or a normal float32 value (>= ${2 ** -126}); smaller values round to 0 or lose precision in float32`);
  const rotationTrick = boolOption(o.rotationTrick, op, 'rotationTrick');
  const cosine = boolOption(o.cosine, op, 'cosine');
  // 1 / temperature scales the logits in float32: it must stay finite.
  const temperature = checkNumber(o.temperature ?? 0, op, 'temperature', { min: 0, f32: true });
  if (temperature > 0 && temperature < 2 ** -126) throw new Error(`${op}: temperature = ${temperature} must be 0 (nearest code) or a normal float32 value (>= ${2 ** -126})`);
  const [N, D] = z.shape;
  const [K, Dc] = codebook.shape;
  if (Dc !== D) throw new Error(`${op}: codebook must have D = ${D} columns like z (shape [${z.shape}]), got shape [${codebook.shape}]`);
  if (N === 0 || D === 0) {
    throw new Error(`${op}: z has no elements (shape [${z.shape}]); the losses are means over N·D elements, so the batch needs at least one row and one column`);
  }
  if (K === 0) throw new Error(`${op}: codebook has no codes (shape [${codebook.shape}])`);
  const draw = temperature > 0 ? randomDraw(o.seed, op, Stream.gumbel) : null;
  if (temperature === 0 && o.seed !== undefined) throw new Error(`${op}: seed is only used to sample codes; pass temperature > 0 with it, or leave seed out`);
  if (!rotationTrick && !cosine && draw === null) return disposeOnThrow(() => quantizeRows(z, codebook, beta, op));
  return disposeOnThrow(() => quantizeRowsWith(z, codebook, beta, op, { rotationTrick, cosine, temperature, draw }));
}

function quantizeRows(z: Tensor, codebook: Tensor, beta: number, op: string): VqResult {
  const indices = nearestCodes(z, codebook, op);
  const codes = gather(codebook, indices);
  // zq: the value of codes, the gradient path of z (the seed's z + sg(zq - z), without round-off).
  const zqValue = f32Affine(codes, 1, 0);
  const zq = record(zqValue, 'vq.straightThrough', [z], (dy) => [identityGrad(dy)]);
  // Each loss owns the intermediates its backward pass reads; nothing else stays alive.
  const zConst = stopGradient(z);
  const codebookLoss = mse(zConst, codes);
  const codesConst = stopGradient(codes);
  const commitment = mse(z, codesConst);
  const commitmentLoss = affine(commitment, beta, 0);
  saveOn(codebookLoss, [zConst, codes]);
  saveOn(commitmentLoss, [codesConst, commitment]);
  return { zq, indices, commitmentLoss, codebookLoss };
}

interface Variant {
  rotationTrick: boolean;
  cosine: boolean;
  temperature: number;
  draw: RandomDraw | null;
}

/**
 * The variants: each output is its own composite (it owns what its backward
 * reads), so the normalization, when cosine, is computed once per output that
 * differentiates through it.
 */
function quantizeRowsWith(z: Tensor, codebook: Tensor, beta: number, op: string, v: Variant): VqResult {
  const rows = (x: Tensor): Tensor => (v.cosine ? l2Normalize(x) : x);
  const { indices, codes } = noGrad(() => {
    const zn = rows(z);
    const cn = rows(codebook);
    const idx = v.draw === null ? nearestCodes(zn, cn, op) : sampleCodes(zn, cn, v.temperature, v.draw, op);
    const picked = gather(cn, idx);
    if (zn !== z) zn.dispose();
    if (cn !== codebook) cn.dispose();
    return { indices: idx, codes: picked };
  });
  const zq = composite(() => {
    const e = rows(z);
    return v.rotationTrick ? rotateTo(e, codes) : record(f32Affine(codes, 1, 0), 'vq.straightThrough', [e], (dy) => [identityGrad(dy)]);
  });
  const codebookLoss = composite(() => mse(stopGradient(rows(z)), gather(rows(codebook), indices)));
  const commitmentLoss = composite(() => affine(mse(rows(z), codes), beta, 0));
  // codes is a constant of commitmentLoss's graph (the stop-gradient target): it lives as long as that loss.
  saveOn(commitmentLoss, [codes]);
  return { zq, indices, commitmentLoss, codebookLoss };
}

/**
 * Samples one code per row from softmax(−‖z − c_k‖² / τ) by the Gumbel-max
 * trick: argmax_k((min_j d_j − d_k) / τ + g_k). Shifting by the row minimum
 * keeps the nearest code's logit at 0, so no row overflows to all −Infinity
 * however small τ is, and τ → 0 gives the nearest code (by these distances).
 */
function sampleCodes(z: Tensor, codebook: Tensor, tau: number, draw: RandomDraw, op: string): Tensor {
  const N = z.shape[0];
  const K = codebook.shape[0];
  return tidy(() => {
    const zz = sum(square(z), { axis: -1, keepDims: true });
    const cc = reshape(sum(square(codebook), { axis: -1 }), [1, K]);
    const dist = add(sub(zz, affine(matmul(z, codebook, { transposeB: true }), 2, 0)), cc);
    const dv = rawF32(dist);
    for (let i = 0; i < dv.length; i++) {
      if (!Number.isFinite(dv[i])) throw new Error(`${op}: the squared distance of z row ${Math.floor(i / K)} to code ${i % K} overflows float32 (${dv[i]}); scale z and the codebook down, or use temperature 0 (nearest code, exact for any finite values)`);
    }
    const logits = affine(sub(min(dist, { axis: -1, keepDims: true }), dist), 1 / tau, 0);
    const noise = empty([N, K], 'float32');
    rngGumbelF32(noise, draw);
    draw.commit();
    return argmax(add(logits, noise), { axis: -1 });
  });
}

/**
 * The rotation trick: forward value q (the codes, exactly), gradient
 * s·Rᵀ·dy to e with s = ‖q‖/‖e‖ and R = I − 2rrᵀ + 2q̂êᵀ, r = (ê + q̂)/‖ê + q̂‖,
 * the rotation with Rê = q̂ (two reflections, never formed as a D×D matrix).
 * Both are constants of the forward pass (computed in float64 per row). A row
 * where e or q is 0 has no direction to rotate: its gradient is straight
 * through, and so is a row where e is so small against q that s exceeds
 * MAX_ROTATION_SCALE. Where q̂ = −ê, r is taken as 0 (R = I − 2êêᵀ, the
 * reflection that takes ê to −ê).
 */
/**
 * Above this scale ‖q‖/‖e‖ a row of e has no usable direction (it is at most
 * 1e-12 of its code's length: below l2Normalize's floor with cosine), and the
 * scaled gradient overflows float32 (fuzz seed 20261204: subnormal rows of z
 * gave infinite gradients, with and without cosine). Such rows go straight through.
 */
const MAX_ROTATION_SCALE = 1e12;

function rotateTo(e: Tensor, codes: Tensor): Tensor {
  const [N, D] = e.shape;
  const ev = rawF32(e);
  const qv = rawF32(codes);
  const eHat = new Float64Array(N * D);
  const qHat = new Float64Array(N * D);
  const r = new Float64Array(N * D);
  const scale = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let ee = 0;
    let qq = 0;
    for (let d = 0; d < D; d++) {
      ee += ev[n * D + d] ** 2;
      qq += qv[n * D + d] ** 2;
    }
    if (ee === 0 || qq === 0) continue;
    const en = Math.sqrt(ee);
    const qn = Math.sqrt(qq);
    if (qn / en > MAX_ROTATION_SCALE) continue;
    scale[n] = qn / en;
    let rr = 0;
    for (let d = 0; d < D; d++) {
      const i = n * D + d;
      eHat[i] = ev[i] / en;
      qHat[i] = qv[i] / qn;
      r[i] = eHat[i] + qHat[i];
      rr += r[i] ** 2;
    }
    const rn = rr > 1e-24 ? Math.sqrt(rr) : Infinity;
    for (let d = 0; d < D; d++) r[n * D + d] /= rn;
  }
  return record(f32Affine(codes, 1, 0), 'vq.rotationTrick', [e], (dy) => {
    const g = empty([N, D], 'float32');
    const dv = rawF32(dy);
    const gv = rawF32(g);
    for (let n = 0; n < N; n++) {
      const o = n * D;
      if (scale[n] === 0) {
        for (let d = 0; d < D; d++) gv[o + d] = dv[o + d];
        continue;
      }
      let rDy = 0;
      let qDy = 0;
      for (let d = 0; d < D; d++) {
        rDy += r[o + d] * dv[o + d];
        qDy += qHat[o + d] * dv[o + d];
      }
      for (let d = 0; d < D; d++) gv[o + d] = scale[n] * (dv[o + d] - 2 * r[o + d] * rDy + 2 * eHat[o + d] * qDy);
    }
    return [g];
  });
}
