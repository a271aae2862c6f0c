import { beforeAll, expect, test } from 'vitest';
import * as sg from '../../src/index.js';

beforeAll(async () => {
  await sg.init();
});

test('sg.io exposes the IO functions', async () => {
  for (const name of ['loadIdx', 'parseIdx', 'parseIdxHeader', 'loadMnist', 'saveSafetensors', 'loadSafetensors', 'parseSafetensors', 'readBytes', 'gunzip', 'isGzip']) {
    expect(typeof (sg.io as any)[name], name).toBe('function');
  }
  const w = sg.tensor([[1, -2], [3, 4]]);
  const { tensors, metadata } = await sg.io.loadSafetensors(sg.io.saveSafetensors({ w }, { by: 'snapgrad' }));
  expect(tensors.w.toArray()).toEqual([[1, -2], [3, 4]]);
  expect(metadata).toEqual({ by: 'snapgrad' });
  tensors.w.dispose();
  w.dispose();
});
