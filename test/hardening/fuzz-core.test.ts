// Regression tests for what the issue-10 fuzz suite (test/fuzz: tensor, ops, ste, kernels)
// found in the code after the hardening merges.
import { expect, test } from 'vitest';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

function errorOf(fn: () => unknown): string {
  const before = sg.memoryStats();
  let thrown: unknown = null;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected an error').not.toBeNull();
  expect((thrown as Error).constructor).toBe(Error);
  const after = sg.memoryStats();
  expect({ bytes: after.bytesInUse, tensors: after.tensorsAlive }).toEqual({ bytes: before.bytesInUse, tensors: before.tensorsAlive });
  return (thrown as Error).message;
}

const draw = () => {
  const t = sg.rand([3]);
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
};

test('the default generator refuses to step past 2^53 - 1 instead of replaying one stream; rngState() always restores', () => {
  sg.setRngState({ seed: 5, counter: Number.MAX_SAFE_INTEGER - 1 });
  const last = draw();
  const state = sg.rngState();
  expect(state).toEqual({ seed: 5, counter: Number.MAX_SAFE_INTEGER });
  // Was: the counter went to 2^53 and stopped moving (every later call gave the same values), and
  // setRngState(rngState()) threw "state.counter must be a non-negative safe integer".
  expect(errorOf(() => sg.rand([3]))).toMatch(/^rand: .*seed\(n\)/);
  expect(errorOf(() => sg.randn([2]))).toMatch(/^randn: /);
  expect(sg.rngState()).toEqual(state);
  sg.setRngState(state);
  sg.setRngState({ seed: 5, counter: Number.MAX_SAFE_INTEGER - 1 });
  expect(draw()).toEqual(last);
  // An explicit seed still works at the last stream.
  sg.setRngState(state);
  const t = sg.rand([2], { seed: 1 });
  t.dispose();
  sg.seed(0);
});
