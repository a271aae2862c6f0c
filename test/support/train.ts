// A few training steps before freezing, so batch-norm statistics and weights
// are not at their initial values.
import * as sg from '../../src/index.js';
import type { Tensor } from '../../src/index.js';

/** `steps` Adam steps (lr 0.05) on random labels in [0, classes); the labels of step s are seeded labelSeed + s. */
export function trainSteps(model: any, inputs: () => Tensor, classes: number, steps: number, labelSeed: number): void {
  const opt = new sg.optim.Adam(model.parameters(), { lr: 0.05 });
  for (let s = 0; s < steps; s++) {
    sg.tidy(() => {
      const x = inputs();
      const y = sg.randint([x.shape[0]], 0, classes, { seed: labelSeed + s });
      const loss = sg.crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  }
  opt.dispose();
}
