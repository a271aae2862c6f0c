import { checkNumber } from '../tensor/checks.js';
import { boolOption, choiceOption } from '../tensor/options.js';
import type { SignGrad } from '../ste/sign.js';
import { F32_MAX } from './guard.js';

const SIGN_GRADS: readonly SignGrad[] = ['identity', 'clipped', 'approx', 'swish'];

/** The binarization options BinaryLinear and BinaryConv2d share. */
export interface BinaryLayerOptionValues {
  binarizeInputs?: boolean;
  uint8Inputs?: boolean;
  inputGrad?: SignGrad;
  weightGrad?: SignGrad;
  scale?: boolean;
  clip?: number;
}

/** Checks the shared binarization options with their defaults; `op` names the layer in errors. */
export function binaryLayerOptions(op: string, o: BinaryLayerOptionValues): Required<BinaryLayerOptionValues> {
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
