// init() with bad options, in a process where snapgrad was not initialized yet (issue 10, classes 1 and 7).
import { expect, test } from 'vitest';
import * as sg from '../../src/index.js';

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected init to reject');
}

test('init({ wasm: <4 bad bytes> }) is a clear Error, not a raw CompileError', async () => {
  const err = await rejection(sg.init({ wasm: new Uint8Array([1, 2, 3, 4]) }));
  expect(err.constructor).toBe(Error);
  expect(err.message).toMatch(/^init: options\.wasm is not a valid WebAssembly module \(.*\); pass the bytes of dist\/snapgrad\.simd\.wasm/);
});

test('init({ wasm: 123 }) says what options.wasm may be (not "HTTP undefined")', async () => {
  const err = await rejection(sg.init({ wasm: 123 as any }));
  expect(err.constructor).toBe(Error);
  expect(err.message).toMatch(/^init: options\.wasm must be bytes \(an ArrayBuffer or Uint8Array\), a URL or path string, a Response, or a Promise of a Response, got 123/);
  const resolved = await rejection(sg.init({ wasm: Promise.resolve(123) as any }));
  expect(resolved.message).toMatch(/^init: options\.wasm resolved to 123; a Promise passed as options\.wasm must resolve to a Response/);
});

test('init({ wasm: <a path that does not exist> }) names init and the path', async () => {
  const err = await rejection(sg.init({ wasm: '/nonexistent/snapgrad.simd.wasm' }));
  expect(err.constructor).toBe(Error);
  expect(err.message).toMatch(/^init: could not load options\.wasm from file:\/\/\/nonexistent\/snapgrad\.simd\.wasm \(.*ENOENT/);
});

test('other bad init options', async () => {
  expect((await rejection(sg.init(5 as any))).message).toMatch(/^init: options must be an object \(or omitted\), got 5/);
  expect((await rejection(sg.init({ initialMemoryBytes: -1 })))).toHaveProperty('message', expect.stringMatching(/^init: options\.initialMemoryBytes must be >= 0, got -1/));
  expect((await rejection(sg.init({ initialMemoryBytes: NaN })))).toHaveProperty('message', expect.stringMatching(/^init: options\.initialMemoryBytes must be a number, got NaN/));
});

test('after the failures, init(null) (null = defaults) initializes and the runtime computes', async () => {
  const info = await sg.init(null);
  expect(info.simd).toBe(true);
  const y = sg.matmul(sg.tensor([[1, 2]]), sg.tensor([[3], [4]]));
  expect(y.toArray()).toEqual([[11]]);
  // Once initialized, a bad options bag is still an error rather than silently ignored.
  expect((await rejection(sg.init({ wasm: 123 as any }))).message).toMatch(/^init: options\.wasm must be/);
});
