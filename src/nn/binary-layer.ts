import { checkNumber } from '../tensor/checks.js';
import { boolOption, choiceOption } from '../tensor/options.js';
import type { SignGrad } from '../ste/sign.js';
import { F32_MAX } from './guard.js';

const SIGN_GRADS: readonly SignGrad[] = ['identity', 'clipped', 'approx', 'swish'];

/** The binarization options BinaryLinear and BinaryConv2d share. */
export interface BinaryLayerOptions {
  /** Binarize the inputs too (BinaryNet, XNOR-popcount); false keeps float inputs (BinaryConnect, first layers). Default true. */
  binarizeInputs?: boolean;
  /**
   * The inputs are integers in [0, 255], e.g. raw pixels (needs binarizeInputs:
   * false): other values throw, a uint8 tensor is taken as is, and freeze()
   * runs the layer on the exact uint8 x 1-bit kernel (BinaryLinear's forward
   * pass runs on it too: several times faster than a float GEMM, the same
   * bits). Default false.
   */
  uint8Inputs?: boolean;
  /** Surrogate gradient of the input binarization (default 'clipped'). */
  inputGrad?: SignGrad;
  /** Surrogate gradient of the weight binarization (default 'clipped'). */
  weightGrad?: SignGrad;
  /** XNOR-Net per-output-channel scale mean|W_c| (default false). */
  scale?: boolean;
  /** Latent weights are clipped to [-clip, clip] after each optimizer step (default 1). */
  clip?: number;
}

/** Checks the shared binarization options with their defaults; `op` names the layer in errors. */
export function binaryLayerOptions(op: string, o: BinaryLayerOptions): Required<BinaryLayerOptions> {
  const binarizeInputs = boolOption(o.binarizeInputs, op, 'binarizeInputs', true);
  const uint8Inputs = boolOption(o.uint8Inputs, op, 'uint8Inputs', false);
  if (uint8Inputs && binarizeInputs) {
    throw new Error(`${op}: uint8Inputs needs binarizeInputs: false (inputs that are binarized are ±1, not uint8)`);
  }
  return {
    binarizeInputs,
    uint8Inputs,
    inputGrad: choiceOption(o.inputGrad, op, 'inputGrad', SIGN_GRADS, 'clipped'),
    weightGrad: choiceOption(o.weightGrad, op, 'weightGrad', SIGN_GRADS, 'clipped'),
    scale: boolOption(o.scale, op, 'scale', false),
    clip: checkNumber(o.clip ?? 1, op, 'clip', { positive: true, max: F32_MAX }),
  };
}
