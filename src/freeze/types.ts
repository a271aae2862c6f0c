import type { Tensor } from '../tensor/tensor.js';

/**
 * Activations between frozen stages: float tensors, or ±1 values packed as
 * bits: rows [rows, ceil(k/128)·4] words, or NHWC images [N, H, W, ceil(k/32)]
 * words with k channels per pixel (see freeze/bits.ts).
 */
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
  /** Features per row the (first) input must have, when fixed; predict checks it before running. */
  readonly inputFeatures?: number;
  /** Features per output row given the input's (null: unknown); lets a loaded graph be checked for consistent widths. */
  outputWidth?(input: number | null): number | null;
  /** Whether the stage reads uint8 inputs as they are (raw pixels). */
  readonly acceptsUint8?: boolean;
  /** Whether the stage binarizes its input (0 -> +1): a sign before it may be packed as bits. */
  readonly binarizesInput?: boolean;
  run(...inputs: Activation[]): Activation;
  /**
   * Peephole fusion: this stage followed by `next`, where next's only input is
   * this stage's output and nothing else reads that output. Returns the fused
   * stage (new tensors; this stage's and next's are disposed by the caller
   * unless reused) or null.
   */
  fuse?(next: FrozenStage, info: FuseInfo): FrozenStage | null;
  /** Largest |value| of the output when it holds integers (for exact folding downstream), else null. */
  outputIntegerMax?(inputs: (number | null)[]): number | null;
}

export interface FuseInfo {
  /** Largest |value| of this stage's input when it holds integers, else null. */
  inputIntegerMax: number | null;
  /** Every reader of next's output binarizes it (0 -> +1), so sign and binarize agree there. */
  readersBinarize: boolean;
}

/** Multiply-accumulates by precision. */
export interface Macs {
  binary: number;
  binaryWeights: number;
  int8: number;
  float: number;
}

/** What freeze() hands a layer that declares its frozen form. */
export interface FreezeContext {
  /** A stored (kept) copy of t, owned by the frozen model. */
  copy(t: Tensor): Tensor;
  /** Marks a tensor made for the frozen model as stored (kept). */
  store(t: Tensor): Tensor;
  /** Builds a registered stage type (the same registry FrozenModel.fromState uses). */
  stage(type: string, tensors: Record<string, Tensor>, config: Record<string, unknown>): FrozenStage;
  /** The layer's input is the model's input (possibly flattened): raw integers when freeze got { uint8Inputs }. */
  readonly rawInput: boolean;
  /** freeze() was told the model's inputs are uint8 values (raw pixels). */
  readonly uint8Inputs: boolean;
  /** Shape of the layer's input in the traced forward (e.g. [batch, h, w, c]: conv layers resolve their window against it). */
  readonly inputShape: readonly number[];
}

/**
 * A layer that declares how summary() counts it and (optionally) how it
 * freezes. Modules with these methods are traced as one atomic node; the
 * others are traced through (their forward's ops are recorded).
 */
export interface DeclaredLayer {
  /** MACs of one forward call with these input and output shapes (whole batch). */
  summaryMacs(input: readonly number[], output: readonly number[]): Macs;
  /**
   * The layer's frozen stage, or null when the layer is the identity in eval
   * mode (Dropout). Layers without it cannot be frozen.
   */
  freezeStage?(ctx: FreezeContext): FrozenStage | null;
  /** Features per input row, when the layer fixes them (lets freeze/summary trace a Sequential without an example). */
  inputWidth?(): number | null;
}

export function isDeclared(m: unknown): m is DeclaredLayer {
  return typeof (m as DeclaredLayer | null)?.summaryMacs === 'function';
}
