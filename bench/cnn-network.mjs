// The binary CNN the CNN benchmarks measure (bench/inference-cnn.mjs,
// bench/training-cnn.mjs, bench/conv-threads.mjs): the first network of
// npm run mnist-bcnn, kept fixed so the figures in BENCHMARKS.md stay
// comparable. On flat [N, 784] pixels: 28x28x1 -> binary conv 3x3 32 (binary
// weights on uint8 pixels) -> pool -> bn -> sign -> binary conv 3x3 64 -> pool
// -> bn -> sign -> binary dense 3136 -> 256 -> bn -> sign -> dense 256 -> 10.
// (npm run mnist-bcnn has since moved to a wider network with a float first
// conv: examples/common.mjs binaryCnn.)
import * as sg from '../dist/snapgrad.js';

export function benchCnn({ seed = 1000, lib = sg } = {}) {
  const { nn } = lib;
  let s = seed;
  return new nn.Sequential(
    (x) => lib.reshape(x, [-1, 28, 28, 1]),
    new nn.BinaryConv2d(1, 32, 3, { padding: 'same', binarizeInputs: false, uint8Inputs: true, bias: false, seed: s++ }),
    new nn.MaxPool2d(2),
    new nn.BatchNorm2d(32),
    new nn.Binarize({ grad: 'clipped' }),
    new nn.BinaryConv2d(32, 64, 3, { padding: 'same', bias: false, seed: s++ }),
    new nn.MaxPool2d(2),
    new nn.BatchNorm2d(64),
    new nn.Binarize({ grad: 'clipped' }),
    new nn.Flatten(),
    new nn.BinaryLinear(7 * 7 * 64, 256, { bias: false, seed: s++ }),
    new nn.BatchNorm1d(256),
    new nn.Binarize({ grad: 'clipped' }),
    new nn.Linear(256, 10, { seed: s++ }),
  );
}
