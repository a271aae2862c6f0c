import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const own = disposeAfterEach();
const { nn, optim } = sg;
const { DataLoader } = sg.data;

/** n points in [-1, 1]^2 labelled by which of three linear scores is largest: learnable by one Linear layer. */
function toyData(n: number, seed: number): { x: Tensor; y: Tensor } {
  const xs = seededArray(2 * n, seed);
  const ys = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = xs[2 * i];
    const b = xs[2 * i + 1];
    const scores = [a + b, a - b, -a];
    ys[i] = scores.indexOf(Math.max(...scores));
  }
  return { x: own(sg.tensor(xs, [n, 2])), y: own(sg.tensor(ys)) };
}

/** A writer that records what fit prints. */
function recorder(isTTY: boolean, columns = 100): { write(t: string): void; isTTY: boolean; columns: number; text: string } {
  return { isTTY, columns, text: '', write(t: string) { this.text += t; } };
}

function setup(seed = 1, n = 240) {
  const train = toyData(n, seed);
  const val = toyData(120, seed + 100);
  const loader = new DataLoader(train, { batchSize: 24, shuffle: true, seed, dtypes: { y: 'int32' } });
  const valLoader = new DataLoader(val, { batchSize: 50, dtypes: { y: 'int32' } });
  const model = own(new nn.Linear(2, 3, { seed }));
  const optimizer = own(new optim.Adam(model.parameters(), { lr: 0.05 }));
  return { train, val, loader, valLoader, model, optimizer };
}

describe('fit', () => {
  test('learns a toy task; the history holds per-epoch loss, metrics, validation, counts and speeds', () => {
    const { loader, valLoader, model, optimizer } = setup();
    const out = recorder(false);
    const h = sg.fit(model, loader, { optimizer, loss: 'crossEntropy', epochs: 8, metrics: ['accuracy'], validation: valLoader, progress: out });
    expect(h.epochs.length).toBe(8);
    expect(h.loss.length).toBe(8);
    expect(h.loss[7]).toBeLessThan(0.6 * h.loss[0]);
    expect(h.metrics.accuracy.length).toBe(8);
    expect(h.metrics.accuracy[7]).toBeGreaterThan(0.85);
    expect(Object.keys(h.validation).sort()).toEqual(['accuracy', 'loss']);
    expect(h.validation.accuracy[7]).toBeGreaterThan(0.85);
    expect(h.steps).toBe(8 * 10);
    expect(h.samples).toBe(8 * 240);
    expect(h.epochs.every((e) => e.steps === 10 && e.samples === 240 && e.samplesPerSecond > 0 && e.seconds >= e.trainSeconds)).toBe(true);
    expect(h.seconds).toBeGreaterThanOrEqual(h.trainSeconds);
    expect(h.stopped).toBe(false);
    // The last validation equals an independent evaluation of the trained model.
    const again = sg.evaluate(model, valLoader, { loss: 'crossEntropy', metrics: ['loss', 'accuracy'] });
    expect(again.samples).toBe(120);
    expect(again.loss).toBe(h.validation.loss[7]);
    expect(again.accuracy).toBe(h.validation.accuracy[7]);
  });

  test('the training loss and accuracy are sample-weighted means of the steps (last batch short)', () => {
    const train = toyData(50, 3);
    const loader = new DataLoader(train, { batchSize: 16, dtypes: { y: 'int32' } });
    const model = own(new nn.Linear(2, 3, { seed: 3 }));
    const optimizer = own(new optim.SGD(model.parameters(), { lr: 0 }));
    const steps: { loss: number; samples: number }[] = [];
    const h = sg.fit(model, loader, { optimizer, loss: 'crossEntropy', metrics: ['accuracy'], progress: false, onStep: (s) => void steps.push(s) });
    expect(steps.map((s) => s.samples)).toEqual([16, 16, 16, 2]);
    const weighted = steps.reduce((a, s) => a + s.loss * s.samples, 0) / 50;
    expect(h.loss[0]).toBeCloseTo(weighted, 12);
    // lr 0: the model never changes, so the epoch accuracy is the whole-set accuracy.
    const whole = sg.tidy(() => sg.metrics.accuracy(model.forward(train.x), train.y));
    expect(h.metrics.accuracy[0]).toBeCloseTo(whole, 12);
  });

  test('callbacks: onStep per step with counters, onEpoch per epoch; false stops', () => {
    const { loader, model, optimizer } = setup(2);
    const seen: string[] = [];
    const epochsSeen: number[] = [];
    sg.fit(model, loader, {
      optimizer, loss: 'crossEntropy', epochs: 3, progress: false, metrics: ['accuracy'],
      onStep: (s) => {
        seen.push(`${s.epoch}.${s.step}/${s.steps}#${s.globalStep}`);
        expect(Object.keys(s.metrics)).toEqual(['accuracy']);
        expect(Math.round(s.metrics.accuracy * s.samples)).toBeCloseTo(s.metrics.accuracy * s.samples, 9);
      },
      onEpoch: (e) => void epochsSeen.push(e.epoch),
    });
    expect(seen.length).toBe(30);
    expect(seen[0]).toBe('1.1/10#1');
    expect(seen[29]).toBe('3.10/10#30');
    expect(epochsSeen).toEqual([1, 2, 3]);
    const before = sg.memoryStats().tensorsAlive;
    const stopStep = sg.fit(model, loader, { optimizer, loss: 'crossEntropy', epochs: 3, progress: false, onStep: (s) => s.step < 4 });
    expect(stopStep.stopped).toBe(true);
    expect(stopStep.steps).toBe(4);
    expect(sg.memoryStats().tensorsAlive).toBe(before);
    const stopEpoch = sg.fit(model, loader, { optimizer, loss: 'crossEntropy', epochs: 5, progress: false, onEpoch: (e) => e.epoch < 2 });
    expect(stopEpoch.epochs.length).toBe(2);
  });

  test('a function model and a custom loss and metric; a Module is in eval mode for validation', () => {
    const { loader, valLoader, model, optimizer } = setup(4);
    const modes: boolean[] = [];
    const probe = new nn.Sequential(model);
    const fn = (x: Tensor) => {
      modes.push(probe.training);
      return probe.forward(x);
    };
    const h = sg.fit(fn, loader, {
      optimizer, epochs: 1, progress: false,
      loss: (out, y) => sg.crossEntropy(out, y),
      metrics: { wrong: (out, y) => 1 - sg.metrics.accuracy(out, y) },
      validation: valLoader,
    });
    expect(h.metrics.wrong[0]).toBeGreaterThanOrEqual(0);
    expect(Object.keys(h.validation).sort()).toEqual(['loss', 'wrong']);
    expect(modes.every((m) => m)).toBe(true);
    modes.length = 0;
    const module = new (class extends nn.Module {
      forward(x: Tensor): Tensor {
        modes.push(this.training);
        return model.forward(x);
      }
    })();
    sg.fit(module, loader, { optimizer, loss: 'crossEntropy', progress: false, validation: valLoader });
    expect(modes.slice(0, 10).every((m) => m)).toBe(true);
    expect(modes.slice(10)).toEqual([false, false, false]);
    expect(module.training).toBe(true);
  });

  test('clipGradNorm in fit: each step moves SGD parameters by at most lr * maxNorm and reports the norm', () => {
    const { loader, model } = setup(5);
    const optimizer = own(new optim.SGD(model.parameters(), { lr: 1 }));
    const norms: number[] = [];
    const moves: number[] = [];
    let last = model.parameters().map((p) => Float64Array.from(p.dataSync()));
    sg.fit(model, loader, {
      optimizer, loss: 'crossEntropy', clipGradNorm: 0.01, progress: false,
      onStep: (s) => {
        norms.push(s.gradNorm!);
        const now = model.parameters().map((p) => Float64Array.from(p.dataSync()));
        let sq = 0;
        now.forEach((a, i) => a.forEach((v, k) => (sq += (v - last[i][k]) ** 2)));
        moves.push(Math.sqrt(sq));
        last = now;
      },
    });
    expect(norms.length).toBe(10);
    norms.forEach((n, i) => {
      expect(n).toBeGreaterThan(0.01);
      expect(moves[i]).toBeCloseTo((0.01 * n) / (n + 1e-6), 5);
    });
  });

  test('any iterable of batches: tensors a generator makes for a batch are freed with its step', () => {
    const { model, optimizer } = setup(13);
    const batches = {
      *[Symbol.iterator]() {
        for (let i = 0; i < 5; i++) yield [sg.randn([8, 2], { seed: i }), sg.randint([8], 0, 3, { seed: i })];
      },
    };
    const before = sg.memoryStats();
    const h = sg.fit(model, batches, { optimizer, loss: 'crossEntropy', epochs: 2, progress: false, validation: batches });
    expect(h.steps).toBe(10);
    expect(h.validation.loss.length).toBe(2);
    expect(sg.memoryStats().tensorsAlive).toBe(before.tensorsAlive);
    expect(sg.memoryStats().bytesInUse).toBe(before.bytesInUse);
  });

  test('a NaN loss stops with an error before the optimizer step, leaking nothing', () => {
    const { loader, model, optimizer } = setup(6);
    const w = model.parameters()[0].dataSync();
    expect(() => sg.fit(model, loader, { optimizer, loss: (out) => sg.sqrt(sg.sub(sg.mul(sg.sum(out), 0), 1)), progress: false })).toThrow(/fit: the loss is NaN at epoch 1, step 1/);
    expect(model.parameters()[0].dataSync()).toEqual(w);
  });

  test('bad arguments name fit and the option', () => {
    const { loader, model, optimizer } = setup(7);
    const cases: [() => unknown, RegExp][] = [
      [() => sg.fit(3 as any, loader, { optimizer, loss: 'crossEntropy' }), /fit: model must be a Module, an object with forward\(x\), or a function/],
      [() => sg.fit(model, 5 as any, { optimizer, loss: 'crossEntropy' }), /fit: loader must be a DataLoader/],
      [() => sg.fit(model, loader, { loss: 'crossEntropy' } as any), /fit: optimizer must be an optimizer/],
      [() => sg.fit(model, loader, { optimizer } as any), /fit: loss is required/],
      [() => sg.fit(model, loader, { optimizer, loss: 'hinge' as any }), /fit: loss must be 'crossEntropy', 'mse' or a function/],
      [() => sg.fit(model, loader, { optimizer, loss: 'crossEntropy', epochs: -1 }), /fit: epochs must be >= 0, got -1/],
      [() => sg.fit(model, loader, { optimizer, loss: 'crossEntropy', metrics: ['acc' as any] }), /fit: metrics\[0\] must be 'accuracy' or 'loss'/],
      [() => sg.fit(model, loader, { optimizer, loss: 'crossEntropy', progress: 'yes' as any }), /fit: progress must be true, false or a writer/],
      [() => sg.fit(model, loader, { optimizer, loss: 'crossEntropy', clipGradNorm: -1 }), /fit: clipGradNorm must be >= 0, got -1/],
      [() => sg.fit(model, loader, { optimizer, loss: 'crossEntropy', epoch: 3 } as any), /fit: unknown option "epoch"/],
      [() => sg.fit(model, loader, { optimizer, loss: 'crossEntropy', onStep: 1 as any }), /fit: onStep must be a function/],
      [() => sg.fit(model, loader, { optimizer, loss: 'crossEntropy', validation: {} as any }), /fit: validation must be a DataLoader/],
      [() => sg.fit(model, loader, { optimizer, loss: () => sg.zeros([2]), progress: false }), /fit: loss must return a float32 tensor with one element, got a float32 tensor of shape \[2\]/],
      [() => sg.fit(model, loader, null as any), /fit: optimizer must be an optimizer/],
      [() => sg.fit(model, loader, 7 as any), /fit: options must be an object \(or omitted\), got 7/],
      [() => sg.evaluate(model, loader, {}), /evaluate: nothing to compute/],
      [() => sg.evaluate(model, loader, { metrics: ['loss'] }), /evaluate: the 'loss' metric needs options.loss/],
    ];
    for (const [fn, re] of cases) expect(fn).toThrow(re);
  });
});

describe('fit progress', () => {
  test('not a terminal: exactly one line per epoch, no carriage returns', () => {
    const { loader, valLoader, model, optimizer } = setup(8);
    const out = recorder(false);
    sg.fit(model, loader, { optimizer, loss: 'crossEntropy', epochs: 3, metrics: ['accuracy'], validation: valLoader, validationMetrics: ['accuracy'], progress: out });
    expect(out.text).not.toContain('\r');
    const lines = out.text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(3);
    lines.forEach((line, i) => expect(line).toMatch(new RegExp(`^epoch ${i + 1}/3  loss \\d+\\.\\d{4}  accuracy \\d+\\.\\d\\d%  val accuracy \\d+\\.\\d\\d%  \\d+ samples/s  \\d+\\.\\d ms/step  \\d+\\.\\d s$`)));
  });

  test('a terminal: the bar is redrawn in place with \\r (step/total, samples/s, loss, ETA), then replaced by the epoch line', () => {
    const { loader, model, optimizer } = setup(9);
    const out = recorder(true, 90);
    const t0 = performance.now();
    sg.fit(model, loader, { optimizer, loss: 'crossEntropy', epochs: 2, progress: out });
    const seconds = (performance.now() - t0) / 1000;
    const lines = out.text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(2);
    for (const [e, line] of lines.entries()) {
      const frames = line.split('\r').slice(1);
      // The first and last step are always drawn; in between at most 10 redraws a second.
      expect(frames.length).toBeGreaterThanOrEqual(3);
      expect(frames.length).toBeLessThanOrEqual(3 + Math.ceil(seconds * 10));
      expect(frames[0]).toMatch(new RegExp(`^epoch ${e + 1}/2 \\[=*>\\s*\\]  1/10 +\\d+ samples/s  loss +\\d+\\.\\d{4}  ETA +\\d+:\\d\\d`));
      expect(frames[frames.length - 2]).toMatch(new RegExp(`^epoch ${e + 1}/2 \\[=+\\] 10/10  `));
      expect(frames[frames.length - 1]).toMatch(new RegExp(`^epoch ${e + 1}/2  loss \\d+\\.\\d{4}  \\d+ samples/s`));
      for (const f of frames) expect(f.length).toBeLessThanOrEqual(89);
      // The bar keeps its width while the numbers change.
      expect(new Set(frames.slice(0, -1).map((f) => f.indexOf(']'))).size).toBe(1);
    }
  });

  test('progress: false prints nothing', () => {
    const { loader, model, optimizer } = setup(10);
    const logged: unknown[] = [];
    const original = console.log;
    console.log = (...a: unknown[]) => void logged.push(a);
    try {
      sg.fit(model, loader, { optimizer, loss: 'crossEntropy', progress: false });
    } finally {
      console.log = original;
    }
    expect(logged).toEqual([]);
  });
});

describe('evaluate and predict', () => {
  test('evaluate: sample-weighted accuracy and loss over chunks equal the whole-set values', () => {
    const { val, valLoader, model } = setup(11);
    const r = sg.evaluate(model, valLoader, { loss: 'crossEntropy', metrics: ['accuracy', 'loss'] });
    const [acc, loss] = sg.tidy(() => {
      const y = sg.cast(val.y, 'int32');
      const out = model.forward(val.x);
      return [sg.metrics.accuracy(out, y), sg.crossEntropy(out, y).item()];
    });
    expect(r.samples).toBe(120);
    expect(r.accuracy).toBeCloseTo(acc, 12);
    expect(r.loss).toBeCloseTo(loss, 5);
  });

  test('predict joins the outputs of every chunk, in order, into one tensor the caller owns', () => {
    const { val, model } = setup(12);
    const before = sg.memoryStats().tensorsAlive;
    const all = own(sg.predict(model, val.x, { batchSize: 7 }));
    expect(sg.memoryStats().tensorsAlive).toBe(before + 1);
    expect(all.shape).toEqual([120, 3]);
    const direct = sg.tidy(() => model.forward(val.x).dataSync());
    expect(all.dataSync()).toEqual(direct);
    expect(() => sg.predict(model, val.x, { batchSize: 0 })).toThrow(/predict: batchSize must be >= 1/);
  });
});

describe('metrics.accuracy', () => {
  test('argmax along the last axis against labels, first maximum on ties, N-D and uint8 labels', () => {
    const logits = own(sg.tensor([[1, 3, 2], [5, 5, 0], [0, 0, 1], [2, 1, 0]]));
    expect(sg.metrics.accuracy(logits, own(sg.tensor(new Int32Array([1, 0, 2, 1]))))).toBe(0.75);
    expect(sg.metrics.accuracy(logits, own(sg.tensor(new Uint8Array([1, 1, 2, 0]))))).toBe(0.75);
    const nd = own(sg.tensor([[[1, 0], [0, 1]], [[0, 1], [0, 1]]]));
    expect(sg.metrics.accuracy(nd, own(sg.tensor(new Int32Array([0, 1, 0, 0]), [2, 2])))).toBe(0.5);
    expect(() => sg.metrics.accuracy(logits, own(sg.tensor(new Int32Array([1, 0]))))).toThrow(/accuracy: labels must have shape \[4\]/);
  });
});

describe('optim.clipGradNorm', () => {
  /** Leaf parameters with gradients g = c (elementwise), set by backward of sum(p * c). */
  function withGrads(values: number[][]): Tensor[] {
    return values.map((c) => {
      const p = own(sg.zeros([c.length], { requiresGrad: true }));
      sg.tidy(() => sg.sum(sg.mul(p, sg.tensor(c))).backward());
      return p;
    });
  }

  test('the total L2 norm over all gradients; scaled by maxNorm / (norm + 1e-6) when above, untouched below', () => {
    const grads = [[3, -4, 0.5], [12, 0], [-1.25, 2, 7, 0.001]];
    const expected = Math.sqrt(grads.flat().reduce((a, v) => a + v * v, 0));
    const params = withGrads(grads);
    const norm = sg.optim.clipGradNorm(params, 100);
    expect(norm).toBeCloseTo(expected, 5);
    params.forEach((p, i) => expect(Array.from(p.grad!.dataSync())).toEqual(grads[i].map(Math.fround)));
    const clipped = sg.optim.clipGradNorm(params, 2);
    expect(clipped).toBeCloseTo(expected, 5);
    const coef = 2 / (expected + 1e-6);
    params.forEach((p, i) => {
      const got = p.grad!.dataSync();
      grads[i].forEach((v, k) => expect(got[k]).toBeCloseTo(v * coef, 6));
    });
    expect(sg.optim.clipGradNorm(params, 2)).toBeCloseTo(2, 5);
  });

  test('parameters without gradients are skipped; no gradient at all gives 0; non-finite norms', () => {
    const [a] = withGrads([[3, 4]]);
    const b = own(sg.zeros([3], { requiresGrad: true }));
    expect(sg.optim.clipGradNorm([a, b], 1)).toBeCloseTo(5, 6);
    expect(b.grad).toBe(null);
    expect(sg.optim.clipGradNorm(b, 1)).toBe(0);
    const [c] = withGrads([[Infinity, 1]]);
    expect(sg.optim.clipGradNorm(c, 1)).toBe(Infinity);
    expect(Array.from(c.grad!.dataSync())).toEqual([Infinity, 1]);
    expect(() => sg.optim.clipGradNorm(c, 1, { errorIfNonfinite: true })).toThrow(/clipGradNorm: the total gradient norm is Infinity/);
  });

  test('bad arguments', () => {
    const [a] = withGrads([[1]]);
    expect(() => sg.optim.clipGradNorm(5 as any, 1)).toThrow(/clipGradNorm: params must be a tensor or an array of tensors/);
    expect(() => sg.optim.clipGradNorm([a, 3 as any], 1)).toThrow(/clipGradNorm: params\[1\] must be a Tensor/);
    expect(() => sg.optim.clipGradNorm([a], NaN)).toThrow(/clipGradNorm: maxNorm must be a number, got NaN/);
    expect(() => sg.optim.clipGradNorm([a], -1)).toThrow(/clipGradNorm: maxNorm must be >= 0/);
    expect(() => sg.optim.clipGradNorm([a], 1, { errorIfNonfinite: 'yes' as any })).toThrow(/clipGradNorm: errorIfNonfinite must be true or false/);
    expect(Array.from(a.grad!.dataSync())).toEqual([1]);
  });
});
