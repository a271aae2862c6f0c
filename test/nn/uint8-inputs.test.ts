// BinaryLinear({ uint8Inputs: true }) takes raw pixels as a uint8 tensor: the
// same outputs and weight gradients, bit for bit, as the float32 tensor of the
// same integers.
import { describe, expect, test } from 'vitest';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

describe('BinaryLinear with uint8 inputs', () => {
  test('a uint8 tensor gives the float32 path\'s outputs and gradients exactly (2-D and [..., in])', () => {
    for (const shape of [[5, 13], [2, 3, 13], [0, 13]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const pixels = Uint8Array.from({ length: n }, (_, i) => (i * 97 + 11) % 256);
      const run = (x: InstanceType<typeof sg.Tensor>) => {
        const layer = new sg.nn.BinaryLinear(13, 7, { binarizeInputs: false, uint8Inputs: true, seed: 5 });
        const y = sg.tidy(() => {
          const out = layer.forward(x);
          out.sum().backward();
          return out.dataSync();
        });
        const dw = layer.weight.grad!.dataSync();
        layer.dispose();
        return { y, dw };
      };
      const xu = sg.tensor(pixels, shape, { dtype: 'uint8' });
      const xf = sg.tensor(Float32Array.from(pixels), shape);
      const a = run(xu);
      const b = run(xf);
      expect(Array.from(a.y)).toEqual(Array.from(b.y));
      expect(Array.from(a.dw)).toEqual(Array.from(b.dw));
      xu.dispose();
      xf.dispose();
    }
  });

  test('a layer without uint8Inputs names the cast that fixes a uint8 input', () => {
    const layer = new sg.nn.BinaryLinear(4, 2, { binarizeInputs: false, seed: 1 });
    const x = sg.tensor(new Uint8Array(8), [2, 4], { dtype: 'uint8' });
    expect(() => layer.forward(x)).toThrow(/^BinaryLinear: x must be float32, got uint8; convert it with x\.cast\('float32'\)/);
    x.dispose();
    layer.dispose();
  });
});
