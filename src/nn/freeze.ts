import { noGrad } from '../autograd/tape.js';
import { packBits } from '../kernels/bitpack.js';
import { binaryMatmulF32, binaryWeightsMatmul } from '../kernels/gemm_b1.js';
import { int8MatmulDequantize } from '../kernels/gemm_s8.js';
import { uint8BinaryMatmulF32 } from '../kernels/gemm_u8b1.js';
import { quantizeInt8 } from '../kernels/quant_s8.js';
import { add, clip, mul, relu, sigmoid, tanh } from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { reshape } from '../ops/shape.js';
import { rt } from '../runtime/context.js';
import { f32View } from '../runtime/views.js';
import { sign } from '../ste/sign.js';
import { checkDType, describe } from '../tensor/checks.js';
import { tensor } from '../tensor/creation.js';
import { bytesPerElement } from '../tensor/dtypes.js';
import { keep, tidy } from '../tensor/scope.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { BatchNorm1d, batchNormEval } from './batchnorm.js';
import { Binarize, Dropout, Flatten, Hardtanh, ReLU, Sequential, Sigmoid, Sign, Tanh } from './layers.js';
import { BinaryLinear, Linear, QuantLinear } from './linear.js';
import type { Module } from './module.js';

/** Activations between frozen stages: float rows, or ±1 rows packed as bits. */
export type Activation = { kind: 'float'; t: Tensor } | { kind: 'bits'; t: Tensor; k: number };

/** One step of a frozen model. Stages own their tensors (kept outside tidy scopes). */
export interface FrozenStage {
  readonly type: string;
  /** Short human description (shapes, precision). */
  readonly description: string;
  /** The stage's stored tensors, by name. */
  readonly tensors: Record<string, Tensor>;
  /** Hyperparameters needed to rebuild the stage (JSON-serializable). */
  readonly config: Record<string, unknown>;
  run(a: Activation): Activation;
}

const f32 = Math.fround;

function asFloat(a: Activation): Tensor {
  if (a.kind === 'float') return a.t;
  // ±1 bits to float for a float layer that follows a binary one.
  const [rows, words] = a.t.shape;
  const out = empty([rows, a.k], 'float32');
  const bits = new Uint32Array(rt().memory.buffer, a.t.offset, rows * words);
  const values = f32View(out.offset, rows * a.k);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < a.k; j++) values[r * a.k + j] = (bits[r * words + (j >> 5)] >>> (j & 31)) & 1 ? -1 : 1;
  }
  return out;
}

function asBits(a: Activation): { t: Tensor; k: number } {
  if (a.kind === 'bits') return { t: a.t, k: a.k };
  return { t: packBits(a.t), k: a.t.shape[1] };
}

function stored(t: Tensor): Tensor {
  return keep(t);
}

function copyOf(t: Tensor): Tensor {
  const out = empty(t.shape, t.dtype);
  const bytes = t.size * bytesPerElement(t.dtype);
  new Uint8Array(rt().memory.buffer, out.offset, bytes).set(new Uint8Array(rt().memory.buffer, t.offset, bytes));
  return stored(out);
}

/**
 * Batch norm in eval mode, with exactly the float32 operations and order of
 * BatchNorm1d's eval forward: ((x - mean) / sqrt(var + eps)) * weight + bias.
 */
interface BnParams {
  mean: Float32Array;
  var: Float32Array;
  weight: Float32Array | null;
  bias: Float32Array | null;
  eps: number;
}

function bnScalar(bn: BnParams, c: number, x: number): number {
  const s = f32(Math.sqrt(f32(f32(bn.var[c] * 1) + f32(bn.eps))));
  const q = f32(f32(x - bn.mean[c]) / s);
  return bn.weight && bn.bias ? f32(f32(q * bn.weight[c]) + bn.bias[c]) : q;
}

function bnTensors(bn: BatchNorm1d): Record<string, Tensor> {
  const out: Record<string, Tensor> = { runningMean: copyOf(bn.runningMean), runningVar: copyOf(bn.runningVar) };
  if (bn.weight && bn.bias) {
    out.weight = copyOf(bn.weight);
    out.bias = copyOf(bn.bias);
  }
  return out;
}

/** BatchNorm1d's eval forward over stored tensors (the same float32 ops, fused). */
function bnForward(x: Tensor, t: Record<string, Tensor>, eps: number): Tensor {
  return batchNormEval(x, t.runningMean, t.runningVar, t.weight ?? null, t.bias ?? null, eps);
}

/**
 * A binary dense layer: packed ±1 weights; inputs either bits (XNOR-popcount)
 * or float (BinaryConnect sign-controlled adds). Epilogue: XNOR scale and bias
 * as trained; then either a folded batch norm + binarize to packed bits
 * (per-channel thresholds found on the exact float32 function the trained model
 * computes), or the trained float ops.
 */
class BinaryDenseStage implements FrozenStage {
  readonly type = 'binary-dense';
  constructor(
    readonly tensors: Record<string, Tensor>,
    readonly config: { inFeatures: number; outFeatures: number; binarizeInputs: boolean; uint8Inputs?: boolean; threshold: boolean; bnEps: number | null },
  ) {}

  get description(): string {
    const c = this.config;
    return `${c.inFeatures} -> ${c.outFeatures}, 1-bit weights, ${c.binarizeInputs ? '1-bit' : c.uint8Inputs ? 'uint8' : 'float'} inputs${c.threshold ? ', batch norm folded into thresholds -> bits' : c.bnEps !== null ? ', float batch norm' : ''}`;
  }

  /** The ±1 product as float32: exact integers for ±1 or integer inputs. */
  private product(a: Activation): Tensor {
    const { weightBits } = this.tensors;
    if (this.config.binarizeInputs) {
      const { t, k } = asBits(a);
      return binaryMatmulF32(t, weightBits, k, 'FrozenModel.predict');
    }
    // Integers in [0, 255] (checked): exact sums by nibble tables, no multiplies.
    if (this.config.uint8Inputs) return uint8BinaryMatmulF32(asFloat(a), weightBits, 'FrozenModel.predict');
    return binaryWeightsMatmul(asFloat(a), weightBits);
  }

  /** XNOR scale then bias, as the trained layer applies them (two rounded ops). */
  private epilogue(y: Tensor): Tensor {
    let out = y;
    if (this.tensors.scale) out = mul(out, this.tensors.scale);
    if (this.tensors.bias) out = add(out, this.tensors.bias);
    return out;
  }

  run(a: Activation): Activation {
    const p = this.product(a);
    if (this.config.threshold) {
      // The thresholds already include the scale, bias and batch norm: compare the raw product.
      const [M, N] = p.shape;
      const out = empty([M, Math.ceil(N / 128) * 4], 'int32');
      rt().kernels.threshold_pack_f32(p.offset, this.tensors.threshold.offset, this.tensors.direction.offset, M, N, out.offset);
      return { kind: 'bits', t: out, k: N };
    }
    const y = this.epilogue(p);
    if (this.config.bnEps !== null) {
      const bn = { runningMean: this.tensors.bnMean, runningVar: this.tensors.bnVar, weight: this.tensors.bnWeight, bias: this.tensors.bnBias };
      return { kind: 'float', t: bnForward(y, bn, this.config.bnEps) };
    }
    return { kind: 'float', t: y };
  }
}

class Int8DenseStage implements FrozenStage {
  readonly type = 'int8-dense';
  constructor(readonly tensors: Record<string, Tensor>, readonly config: { inFeatures: number; outFeatures: number; inputScale: number | null; weightBits: number }) {}

  get description(): string {
    const c = this.config;
    return `${c.inFeatures} -> ${c.outFeatures}, ${c.weightBits}-bit weights (int8 storage), ${c.inputScale === null ? 'float inputs' : 'int8 inputs'}`;
  }

  run(a: Activation): Activation {
    const x = asFloat(a);
    const { weight, weightScale, bias } = this.tensors;
    if (this.config.inputScale === null) {
      // Float activations: dequantize the weights once per call.
      const w = mul(toFloat(weight), reshape(weightScale, [this.config.outFeatures, 1]));
      const y = matmul(x, w, { transposeB: true });
      return { kind: 'float', t: bias ? add(y, bias) : y };
    }
    const xq = quantizeInt8(x, { scale: this.config.inputScale });
    return { kind: 'float', t: int8MatmulDequantize(xq, weight, { transposeB: true, scaleA: this.config.inputScale, scaleB: weightScale, bias: bias ?? 0 }) };
  }
}

function toFloat(t: Tensor): Tensor {
  const out = empty(t.shape, 'float32');
  rt().kernels.i8_to_f32(t.offset, out.offset, t.size);
  return out;
}

/** A float layer kept as is (copied weights): Linear, BatchNorm1d, activations, Flatten. */
class FloatStage implements FrozenStage {
  constructor(readonly type: string, readonly tensors: Record<string, Tensor>, readonly config: Record<string, unknown>) {}

  get description(): string {
    return this.type === 'linear' ? `${this.config.inFeatures} -> ${this.config.outFeatures}, float32` : `${this.type}`;
  }

  run(a: Activation): Activation {
    const x = this.type === 'binarize' && a.kind === 'bits' ? null : asFloat(a);
    const t = this.tensors;
    const c = this.config;
    switch (this.type) {
      case 'linear': {
        const y = matmul(x!, t.weight, { transposeB: true });
        return { kind: 'float', t: t.bias ? add(y, t.bias) : y };
      }
      case 'batchnorm': return { kind: 'float', t: bnForward(x!, t, c.eps as number) };
      case 'relu': return { kind: 'float', t: relu(x!) };
      case 'tanh': return { kind: 'float', t: tanh(x!) };
      case 'sigmoid': return { kind: 'float', t: sigmoid(x!) };
      case 'hardtanh': return { kind: 'float', t: clip(x!, c.min as number, c.max as number) };
      case 'sign': return { kind: 'float', t: sign(x!) };
      case 'binarize': return x === null ? a : { kind: 'bits', t: packBits(x), k: x.shape[1] };
      case 'flatten': return { kind: 'float', t: reshape(x!, [x!.shape[0], -1]) };
      default: throw new Error(`frozen model: unknown stage type ${this.type}`);
    }
  }
}

/**
 * Per-channel thresholds that reproduce binarize(bn(epilogue(y))) for every
 * integer y in [-range, range]: the trained model's eval path is a monotone
 * float32 function of y per channel, found here with the same operations.
 */
function foldThresholds(layer: BinaryLinear, bn: BatchNorm1d, range: number): { threshold: Float32Array; direction: Int32Array } {
  const N = layer.outFeatures;
  const read = (t: Tensor | null) => (t ? Float32Array.from(f32View(t.offset, t.size)) : null);
  const params: BnParams = { mean: read(bn.runningMean)!, var: read(bn.runningVar)!, weight: read(bn.weight), bias: read(bn.bias), eps: bn.eps };
  const scale = layer.scale ? noGrad(() => tidy(() => read(layer.channelScales()))) : null;
  const bias = read(layer.bias);
  const threshold = new Float32Array(N);
  const direction = new Int32Array(N);
  for (let c = 0; c < N; c++) {
    const f = (y: number): number => {
      let v = y;
      if (scale) v = f32(v * scale[c]);
      if (bias) v = f32(v + bias[c]);
      return bnScalar(params, c, v);
    };
    const lo = f(-range);
    const hi = f(range);
    if (Number.isNaN(lo) || Number.isNaN(hi)) throw new Error(`freeze: batch norm channel ${c} produces NaN`);
    if (lo === hi) {
      // Constant output: every input gives the same bit.
      direction[c] = 1;
      threshold[c] = lo < 0 ? Infinity : -Infinity;
      continue;
    }
    const up = hi > lo;
    // Smallest (up) or largest (down) integer y in range with f(y) >= 0.
    let a = -range;
    let b = range;
    if (up) {
      if (hi < 0) { threshold[c] = Infinity; direction[c] = 1; continue; }
      while (a < b) {
        const mid = Math.floor((a + b) / 2);
        if (f(mid) >= 0) b = mid;
        else a = mid + 1;
      }
      threshold[c] = a; // negative iff y < a
      direction[c] = 1;
    } else {
      if (lo < 0) { threshold[c] = -Infinity; direction[c] = -1; continue; }
      while (a < b) {
        const mid = Math.ceil((a + b) / 2);
        if (f(mid) >= 0) a = mid;
        else b = mid - 1;
      }
      threshold[c] = a; // negative iff y > a
      direction[c] = -1;
    }
  }
  return { threshold, direction };
}

/** Is the layer's float input made of integers (pixels, ±1)? Then its sums are exact and foldable. */
function integerRange(layer: BinaryLinear, inputMax: number): number {
  return layer.inFeatures * (layer.binarizeInputs ? 1 : inputMax);
}

export interface FreezeOptions {
  /**
   * The first layer's inputs are integers in [0, 255] (e.g. raw pixels): a
   * binary first layer then runs on the uint8 x 1-bit kernel (exact, and
   * predict rejects other values), and its batch norm folds into thresholds.
   * Implies integerInputMax = 255.
   */
  uint8Inputs?: boolean;
  /**
   * Largest |input| of the first layer when its inputs are integers (e.g. 255
   * for raw pixels). Needed to fold batch norm into thresholds after a binary
   * layer with float inputs; without it that layer keeps float batch norm.
   */
  integerInputMax?: number;
}

/**
 * An inference model made from a trained Sequential: binary layers store
 * packed bits and run XNOR-popcount kernels (batch norm + binarize folded into
 * per-channel thresholds that give the same bits as the trained model), quant
 * layers store int8 weights and run the int8 kernels, float layers are copied.
 */
export class FrozenModel {
  constructor(readonly stages: FrozenStage[]) {}

  /**
   * Runs the model on a batch [batch, features]; returns float32 outputs
   * (logits). x is float32, or uint8 (raw bytes, no float copy) when the first
   * layer was frozen with uint8 inputs.
   */
  predict(x: Tensor): Tensor {
    checkDType(x, 'FrozenModel.predict', 'x', 'float32', 'uint8');
    if (x.dtype === 'uint8' && !this.takesUint8()) {
      throw new Error('FrozenModel.predict: x is uint8, but this model\'s first layer takes float32 inputs (freeze with { uint8Inputs: true }, or a BinaryLinear with uint8Inputs, to feed raw bytes)');
    }
    return noGrad(() =>
      tidy(() => {
        let a: Activation = { kind: 'float', t: x };
        for (const s of this.stages) a = s.run(a);
        const y = asFloat(a);
        return y === x ? mul(x, 1) : y;
      }),
    );
  }

  /** Whether the first layer (after any Flatten) runs on uint8 inputs. */
  private takesUint8(): boolean {
    const first = this.stages.find((s) => s.type !== 'flatten');
    return first?.type === 'binary-dense' && first.config.uint8Inputs === true;
  }

  /** Bytes of stored weights and constants. */
  get sizeBytes(): number {
    let n = 0;
    for (const s of this.stages) for (const t of Object.values(s.tensors)) n += t.size * bytesPerElement(t.dtype);
    return n;
  }

  summary(): string {
    return this.stages.map((s, i) => `${String(i).padStart(2)}  ${s.type.padEnd(13)} ${s.description}`).join('\n');
  }

  /** All stored tensors by "index.name", plus the architecture, for saving with io.saveSafetensors. */
  state(): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
    const tensors: Record<string, Tensor> = {};
    this.stages.forEach((s, i) => {
      for (const [name, t] of Object.entries(s.tensors)) tensors[`${i}.${name}`] = t;
    });
    const architecture = this.stages.map((s) => ({ type: s.type, config: s.config }));
    return { tensors, metadata: { format: 'snapgrad-frozen', version: '1', architecture: JSON.stringify(architecture) } };
  }

  /** Rebuilds a frozen model from state() output (e.g. loaded with io.loadSafetensors). */
  static fromState(tensors: Record<string, Tensor>, metadata: Record<string, string>): FrozenModel {
    if (metadata?.format !== 'snapgrad-frozen') throw new Error(`FrozenModel.fromState: metadata.format must be "snapgrad-frozen", got ${describe(metadata?.format)}`);
    let arch: { type: string; config: any }[];
    try {
      arch = JSON.parse(metadata.architecture);
    } catch {
      throw new Error('FrozenModel.fromState: metadata.architecture is not valid JSON');
    }
    if (!Array.isArray(arch)) throw new Error('FrozenModel.fromState: metadata.architecture must be an array of stages');
    const stages = arch.map((s, i) => {
      const own: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(tensors)) if (name.startsWith(`${i}.`)) own[name.slice(String(i).length + 1)] = keep(t);
      if (s.type === 'binary-dense') return new BinaryDenseStage(own, s.config);
      if (s.type === 'int8-dense') return new Int8DenseStage(own, s.config);
      if (FLOAT_TYPES.includes(s.type)) return new FloatStage(s.type, own, s.config ?? {});
      throw new Error(`FrozenModel.fromState: stage ${i} has unknown type ${describe(s.type)}`);
    });
    return new FrozenModel(stages);
  }

  dispose(): void {
    // Runtime caches (packed weights) live with the stored tensors and go with them.
    for (const s of this.stages) for (const t of Object.values(s.tensors)) t.dispose();
  }
}

const FLOAT_TYPES = ['linear', 'batchnorm', 'relu', 'tanh', 'sigmoid', 'hardtanh', 'sign', 'binarize', 'flatten'];

/** Freezes a trained Sequential model (see FrozenModel). The trained model is not changed. */
export function freeze(model: Module, options: FreezeOptions = {}): FrozenModel {
  if (!(model instanceof Sequential)) throw new Error(`freeze: model must be an nn.Sequential, got ${describe(model)}`);
  const layers = model.layers.filter((m) => !(m instanceof Dropout));
  const stages: FrozenStage[] = [];
  let integerMax: number | null = options.uint8Inputs ? 255 : options.integerInputMax ?? null;
  let firstLayer = true;
  noGrad(() => {
    for (let i = 0; i < layers.length; i++) {
      const m = layers[i];
      if (m instanceof BinaryLinear) {
        const weightBits = stored(tidy(() => packBits(m.weight)));
        const tensors: Record<string, Tensor> = { weightBits };
        if (m.scale) tensors.scale = stored(tidy(() => m.channelScales()));
        if (m.bias) tensors.bias = copyOf(m.bias);
        const bn = layers[i + 1] instanceof BatchNorm1d ? (layers[i + 1] as BatchNorm1d) : null;
        const act = layers[i + 2];
        const next = layers[i + 3];
        const binarizes = act instanceof Binarize || (act instanceof Sign && next instanceof BinaryLinear && next.binarizeInputs);
        if (m.uint8Inputs) integerMax = 255;
        const exact = m.binarizeInputs || integerMax !== null;
        const config = {
          inFeatures: m.inFeatures,
          outFeatures: m.outFeatures,
          binarizeInputs: m.binarizeInputs,
          uint8Inputs: m.uint8Inputs || (firstLayer && !m.binarizeInputs && !!options.uint8Inputs),
          threshold: false,
          bnEps: null as number | null,
        };
        if (bn && binarizes && exact) {
          const { threshold, direction } = foldThresholds(m, bn, integerRange(m, integerMax ?? 1));
          tensors.threshold = stored(tensor(threshold));
          tensors.direction = stored(tensor(direction, undefined, { dtype: 'int32' }));
          config.threshold = true;
          i += 2;
        } else if (bn) {
          const t = bnTensors(bn);
          tensors.bnMean = t.runningMean;
          tensors.bnVar = t.runningVar;
          if (t.weight) tensors.bnWeight = t.weight;
          if (t.bias) tensors.bnBias = t.bias;
          config.bnEps = bn.eps;
          i += 1;
        }
        stages.push(new BinaryDenseStage(tensors, config));
        // After a binary layer the values are no longer known integers unless they were binarized.
        integerMax = config.threshold ? 1 : null;
      } else if (m instanceof QuantLinear) {
        // [out, 1] per channel or [1, 1] per tensor; read inside tidy (a learned scale is the parameter itself).
        const sv = tidy(() => {
          const s = m.weightScale();
          return Float32Array.from(f32View(s.offset, s.size));
        });
        const perChannel = new Float32Array(m.outFeatures).map((_, c) => sv[sv.length === 1 ? 0 : c]);
        const tensors: Record<string, Tensor> = {
          weight: stored(tidy(() => quantizeInt8(m.weight, { scale: sv.length === 1 ? sv[0] : perChannel }))),
          weightScale: stored(tensor(perChannel)),
        };
        if (m.bias) tensors.bias = copyOf(m.bias);
        stages.push(new Int8DenseStage(tensors, { inFeatures: m.inFeatures, outFeatures: m.outFeatures, inputScale: m.inputScale(), weightBits: m.weightBits }));
        integerMax = null;
      } else if (m instanceof Linear) {
        const tensors: Record<string, Tensor> = { weight: copyOf(m.weight) };
        if (m.bias) tensors.bias = copyOf(m.bias);
        stages.push(new FloatStage('linear', tensors, { inFeatures: m.inFeatures, outFeatures: m.outFeatures }));
        integerMax = null;
      } else if (m instanceof BatchNorm1d) {
        stages.push(new FloatStage('batchnorm', bnTensors(m), { eps: m.eps }));
        integerMax = null;
      } else if (m instanceof ReLU) stages.push(new FloatStage('relu', {}, {}));
      else if (m instanceof Tanh) { stages.push(new FloatStage('tanh', {}, {})); integerMax = null; }
      else if (m instanceof Sigmoid) { stages.push(new FloatStage('sigmoid', {}, {})); integerMax = null; }
      else if (m instanceof Hardtanh) { stages.push(new FloatStage('hardtanh', {}, { min: m.min, max: m.max })); integerMax = null; }
      else if (m instanceof Sign) { stages.push(new FloatStage('sign', {}, {})); integerMax = 1; }
      else if (m instanceof Binarize) { stages.push(new FloatStage('binarize', {}, {})); integerMax = 1; }
      else if (m instanceof Flatten) stages.push(new FloatStage('flatten', {}, {}));
      else throw new Error(`freeze: layer ${i} (${m.constructor.name}) is not supported (supported: BinaryLinear, QuantLinear, Linear, BatchNorm1d, ReLU, Tanh, Sigmoid, Hardtanh, Sign, Binarize, Flatten, Dropout)`);
      // Only a reshape keeps the model's raw inputs for the next layer.
      if (!(m instanceof Flatten)) firstLayer = false;
    }
  });
  return new FrozenModel(stages);
}
