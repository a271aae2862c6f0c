import { expect } from 'vitest';
import * as sg from '../../src/index.js';
import type { Tensor } from '../../src/index.js';

/**
 * The memory rule of an op: make() returns one tensor and leaves alive only
 * it plus `saved` tensors the tape owns (null: some, count not checked);
 * backward (when recorded) adds only the leaves' gradients; disposing the
 * output brings memoryStats() back to where it started.
 */
export function expectOpMemory(label: string, leaves: Tensor[], make: () => Tensor, saved: number | null): void {
  const start = sg.memoryStats();
  const out = make();
  const extra = sg.memoryStats().tensorsAlive - start.tensorsAlive - 1;
  if (saved === null) expect(extra, `${label}: tensors alive after forward besides the output`).toBeGreaterThanOrEqual(0);
  else expect(extra, `${label}: tensors alive after forward besides the output (saved)`).toBe(saved);
  if (out.requiresGrad) {
    const g = sg.ones([...out.shape]);
    out.backward(g);
    g.dispose();
    const grads = leaves.filter((t) => t.requiresGrad).length;
    expect(sg.memoryStats().tensorsAlive - start.tensorsAlive, `${label}: after backward (+ leaf gradients)`).toBe(1 + extra + grads);
    for (const t of leaves) {
      t.grad?.dispose();
      t.grad = null;
    }
  }
  out.dispose();
  expect(sg.memoryStats(), `${label}: after disposing the output`).toEqual(start);
}

/** Training steps (mean-square loss of model(x)) leave memoryStats() as they found it, after a first step that allocates optimizer state. */
export function expectTrainingMemoryFlat(model: { forward(x: Tensor): Tensor }, x: Tensor, opt: { zeroGrad(): void; step(): void }): void {
  const step = () => sg.tidy(() => {
    opt.zeroGrad();
    model.forward(x).square().mean().backward();
    opt.step();
  });
  step();
  const before = sg.memoryStats();
  for (let i = 0; i < 4; i++) step();
  expect(sg.memoryStats()).toEqual(before);
}
