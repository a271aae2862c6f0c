import { describe, expect, test } from 'vitest';
import { Allocator } from '../../src/runtime/allocator.js';

function fresh(pages = 1) {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 1024 });
  return { memory, a: new Allocator(memory, 100) };
}

describe('Allocator', () => {
  test('16-byte aligned blocks after the heap base; offset 0 never handed out', () => {
    const { a } = fresh();
    const offs = [1, 3, 16, 17, 100, 0].map((n) => a.alloc(n));
    for (const o of offs) {
      expect(o % 16).toBe(0);
      expect(o).toBeGreaterThanOrEqual(112);
    }
    expect(new Set(offs).size).toBe(offs.length);
    expect(a.bytesInUse).toBe(16 + 16 + 16 + 32 + 112 + 16);
  });

  test('freed blocks are reused best-fit and neighbours coalesce', () => {
    const { a } = fresh();
    const x = a.alloc(64);
    const y = a.alloc(32);
    const z = a.alloc(48);
    a.alloc(16); // keeps the top from absorbing z
    a.free(x);
    a.free(z);
    expect(a.alloc(32)).toBe(z); // best fit: the 48-byte hole, not the 64-byte one
    a.free(y);
    // x and y coalesce into one 96-byte hole
    expect(a.alloc(96)).toBe(x);
  });

  test('repeated same-size alloc/free cycles do not grow the top', () => {
    const { a, memory } = fresh();
    for (let i = 0; i < 1000; i++) {
      const blocks = [1000, 24, 4096, 7].map((n) => a.alloc(n));
      blocks.reverse().forEach((b) => a.free(b));
    }
    expect(a.bytesInUse).toBe(0);
    expect(memory.buffer.byteLength).toBe(65536);
  });

  test('grows the memory on demand (old views detach, new ones see the data)', () => {
    const { a, memory } = fresh(1);
    const first = a.alloc(1000);
    new Float32Array(memory.buffer, first, 4).set([1, 2, 3, 4]);
    const before = memory.buffer;
    const big = a.alloc(200_000);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(big + 200_000);
    expect(before.byteLength).toBe(0); // detached
    expect(Array.from(new Float32Array(memory.buffer, first, 4))).toEqual([1, 2, 3, 4]);
  });

  test('errors: freeing an unknown block, bad sizes, exhausting the maximum', () => {
    const { a } = fresh();
    expect(() => a.free(12345)).toThrow(/free: offset 12345 is not a live block/);
    expect(() => a.alloc(-1)).toThrow(/alloc: bytes must be a non-negative integer/);
    const o = a.alloc(8);
    a.free(o);
    expect(() => a.free(o)).toThrow(/not a live block/);
    expect(() => a.alloc(2 ** 31)).toThrow(/(out of memory|WebAssembly.Memory)/);
  });
});
