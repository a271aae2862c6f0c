import { expect, test } from 'vitest';
import { useSnapgrad } from './support/setup.js';

const sg = useSnapgrad();

test('memoryStats() is back at its starting value after 1000 training steps inside tidy', () => {
  const w1 = sg.keep(sg.randn([16, 32], { seed: 1, std: 0.3, requiresGrad: true }));
  const w2 = sg.keep(sg.randn([32, 4], { seed: 2, std: 0.3, requiresGrad: true }));
  const opt = new sg.optim.SGD([w1, w2], { lr: 0.01, momentum: 0.9 });
  const start = sg.memoryStats();
  let firstLoss = 0;
  let lastLoss = 0;
  let memoryAfterWarmup = 0;
  for (let step = 0; step < 1000; step++) {
    const loss = sg.tidy(() => {
      const x = sg.randn([8, 16], { seed: 100 + (step % 10) });
      const labels = sg.argmax(sg.slice(x, [0, 0], [-1, 4]), { axis: 1 });
      const h = sg.ste.sign(sg.matmul(x, sg.ste.binarize(w1, { grad: 'clipped' })), { grad: 'approx' });
      const loss = sg.crossEntropy(sg.matmul(h, w2), labels);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      return loss.item();
    });
    if (step === 0) firstLoss = loss;
    if (step === 10) memoryAfterWarmup = sg.memoryStats().memoryBytes;
    lastLoss = loss;
  }
  opt.zeroGrad();
  expect(sg.memoryStats()).toEqual(start);
  // the wasm memory stopped growing after the first steps
  expect(sg.memoryStats().memoryBytes).toBe(memoryAfterWarmup);
  expect(lastLoss).toBeLessThan(firstLoss);
  opt.dispose();
  w1.dispose();
  w2.dispose();
  expect(sg.memoryStats().tensorsAlive).toBe(start.tensorsAlive - 4);
});
