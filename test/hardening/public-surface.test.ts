// Regression test for the fuzz suite's coverage finding (issue 10): the host's raw
// memory access (views sharing storage, the storage itself, raw typed arrays over
// wasm memory) is internal. It used to be Tensor methods (view, alive, rawF32, ...),
// callable by anyone: t.view([...]) of another size threw "internal: ...", and a raw
// view outlives a memory growth. They are now functions of src/tensor/tensor.ts
// that src/index.ts does not export.
import { expect, test } from 'vitest';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';
import * as index from '../../src/index.js';

const sg = useSnapgrad();
expectNoLeaks();

const INTERNAL = ['view', 'alive', 'attach', 'rawView', 'rawF32', 'rawI32', 'rawBytes', 'storage'];

test('Tensor has no internal methods on its public surface', () => {
  const t = sg.tensor([1, 2, 3]);
  try {
    for (const name of INTERNAL) {
      expect(typeof (t as unknown as Record<string, unknown>)[name], `Tensor#${name}`).not.toBe('function');
      expect(Object.getOwnPropertyNames(sg.Tensor.prototype)).not.toContain(name);
    }
    // The public reads still work and copy.
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3]);
    const r = t.reshape([3, 1]);
    expect(r.toArray()).toEqual([[1], [2], [3]]);
    r.dispose();
  } finally {
    t.dispose();
  }
});

test('the package exports none of the internal memory functions', () => {
  for (const name of ['viewOf', 'storageOf', 'rawView', 'rawF32', 'rawI32', 'rawBytes', 'Storage']) {
    expect(Object.keys(index), name).not.toContain(name);
  }
});
