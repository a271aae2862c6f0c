import '../support/ensure-build.mjs';
import { beforeAll, expect, test } from 'vitest';
import { seededArray } from '../support/setup.js';

// The main job's model is built by examples/common.mjs, which uses the bundle (dist/).
const sg: any = await import('../../dist/snapgrad.js');
const { binaryMlp } = await import('../../examples/common.mjs');

beforeAll(async () => {
  await sg.init();
});

test('the main job\'s binary MLP freezes to threshold stages whose predictions equal the eval forward, before and after a safetensors round trip', () => {
  const before = sg.memoryStats().tensorsAlive;
  const model = binaryMlp({ hidden: 48, seed: 7 });
  const pixels = (rows: number, seed: number) => sg.tensor(Float32Array.from(seededArray(rows * 784, seed, 0, 256), Math.floor), [rows, 784]);
  const opt = new sg.optim.Adam(model.parameters(), { lr: 0.02 });
  for (let step = 0; step < 4; step++) {
    sg.tidy(() => {
      const loss = sg.crossEntropy(model.forward(pixels(32, step + 1)), sg.randint([32], 0, 10, { seed: step }));
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  }
  opt.dispose();
  const frozen = sg.freeze(model, { uint8Inputs: true });
  const traced = sg.tidy(() => sg.freeze(model, { uint8Inputs: true, example: pixels(5, 99) }));
  expect(frozen.stages.map((s: any) => [s.type, s.config.threshold])).toEqual([['binary-dense', true], ['binary-dense', true], ['binary-dense', false]]);
  expect(frozen.stages[0].config.uint8Inputs).toBe(true);
  expect(traced.state().metadata).toEqual(frozen.state().metadata);
  const { tensors, metadata } = frozen.state();
  const loaded = sg.io.parseSafetensors(sg.io.saveSafetensors(tensors, metadata));
  const again = sg.FrozenModel.fromState(loaded.tensors, loaded.metadata);
  model.eval();
  sg.tidy(() => {
    const x = pixels(64, 123);
    const want = sg.noGrad(() => model.forward(x)).toArray();
    const bytes = sg.tensor(Uint8Array.from(x.dataSync()), [64, 784], { dtype: 'uint8' });
    expect(frozen.predict(x).toArray()).toEqual(want);
    expect(frozen.predict(bytes).toArray()).toEqual(want);
    expect(traced.predict(x).toArray()).toEqual(want);
    expect(again.predict(bytes).toArray()).toEqual(want);
  });
  for (const m of [frozen, traced, again, model]) m.dispose();
  expect(sg.memoryStats().tensorsAlive).toBe(before);
});
