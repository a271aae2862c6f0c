// The generated ABI (scripts/gen-abi.mjs): the committed files must equal a
// fresh run over assembly/ (drift), and the compiled module must export
// exactly the functions the generated interface declares, with their arity.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { generate, HEADER } from '../../scripts/gen-abi.mjs';
import { rt } from '../../src/runtime/context.js';
import { useSnapgrad } from '../support/setup.js';

useSnapgrad();
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const fresh: Record<string, string> = generate(root);

describe('generated ABI', () => {
  test.each(Object.keys(fresh))('%s equals a fresh run of scripts/gen-abi.mjs (else run npm run gen:abi)', (file) => {
    const committed = readFileSync(join(root, file), 'utf8');
    expect(committed.split('\n')[0]).toBe(HEADER);
    expect(committed).toBe(fresh[file]);
  });

  test('the wasm exports are exactly the generated interface, with the declared arity', () => {
    const source = readFileSync(join(root, 'src/runtime/abi.generated.ts'), 'utf8');
    const declared = new Map<string, number | null>();
    for (const m of source.matchAll(/^ {2}(\w+)(\(([^)]*)\))?/gm)) {
      declared.set(m[1], m[2] === undefined ? null : m[3].split(',').filter((p) => p.trim()).length);
    }
    const exports = rt().kernels as unknown as Record<string, unknown>;
    expect(Object.keys(exports).sort()).toEqual([...declared.keys()].sort());
    for (const [name, arity] of declared) {
      if (arity === null) continue;
      expect(typeof exports[name], name).toBe('function');
      expect((exports[name] as (...a: number[]) => unknown).length, `${name} arity`).toBe(arity);
    }
  });

  test('the TypeScript op codes are the values of assembly/codes.ts', () => {
    const codes = readFileSync(join(root, 'assembly/codes.ts'), 'utf8');
    const generated = readFileSync(join(root, 'src/kernels/codes.generated.ts'), 'utf8');
    const pairs = (src: string, re: RegExp) => [...src.matchAll(re)].map((m) => `${m[1]}=${m[2]}`);
    const want = pairs(codes, /^export const (\w+): i32 = (-?\d+);/gm);
    expect(want.length).toBeGreaterThan(0);
    expect(pairs(generated, /^export const (\w+) = (-?\d+);/gm)).toEqual(want);
  });
});
