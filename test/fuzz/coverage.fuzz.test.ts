// Every public export has a fuzz model: the exports of src/index.ts are
// enumerated at run time (functions, namespaces, classes with their
// prototype methods, accessors and static methods), and each must be named in
// the `covers` list of some prop(...) in test/fuzz/*.fuzz.test.ts. A new
// export without a property fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import * as sg from '../../src/index.js';

/** Public names of everything reachable from the package's exports, with the value each names. */
export function enumerateExports(): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (obj: Record<string, unknown>, path: string) => {
    for (const key of Object.keys(obj).sort()) {
      const v = obj[key];
      const name = `${path}.${key}`;
      if (typeof v === 'function') {
        out.set(name, v);
        const proto = (v as { prototype?: object }).prototype;
        if (proto && Object.getOwnPropertyNames(proto).length > 1) {
          for (const m of Object.getOwnPropertyNames(proto)) {
            if (m === 'constructor') continue;
            const d = Object.getOwnPropertyDescriptor(proto, m)!;
            out.set(`${name}#${m}`, d.value ?? d.get ?? d.set);
          }
        }
        for (const s of Object.getOwnPropertyNames(v)) {
          if (['length', 'name', 'prototype'].includes(s)) continue;
          if (typeof (v as any)[s] === 'function') out.set(`${name}.${s}`, (v as any)[s]);
        }
      } else if (v !== null && typeof v === 'object') {
        walk(v as Record<string, unknown>, name);
      } else {
        out.set(name, v);
      }
    }
  };
  walk(sg as unknown as Record<string, unknown>, 'sg');
  return out;
}

/** The names each fuzz file declares it models: the string literals in prop([...], ...). */
export function declaredCovers(): Map<string, string> {
  const dir = new URL('./', import.meta.url);
  const covers = new Map<string, string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.fuzz.test.ts') && f !== 'coverage.fuzz.test.ts')) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    for (const m of text.matchAll(/\bprop\(\s*\[([^\]]*)\]/g)) {
      for (const s of m[1].matchAll(/'([^']+)'/g)) covers.set(s[1], file);
    }
  }
  return covers;
}

test('every public export (functions, namespaces, classes, methods, accessors) has a fuzz model', () => {
  const exports = enumerateExports();
  const covers = declaredCovers();
  // Aliases (sg.freeze and sg.nn.freeze, ...) are the same value: covering one name covers both.
  const coveredValues = new Set<unknown>([...covers.keys()].map((n) => exports.get(n)).filter((v) => v !== undefined));
  const missing = [...exports.keys()].filter((n) => !covers.has(n) && !coveredValues.has(exports.get(n)));
  expect(missing, `exports with no fuzz property (add a prop([...]) naming them):\n${missing.join('\n')}`).toEqual([]);
});

test('every name a property claims to cover is a real export', () => {
  const exports = enumerateExports();
  const stale = [...declaredCovers().entries()].filter(([n]) => !exports.has(n)).map(([n, f]) => `${n} (${f})`);
  expect(stale, 'covers lists naming no export').toEqual([]);
});

test('the enumeration sees the namespaces and the chainable Tensor methods', () => {
  const names = [...enumerateExports().keys()];
  for (const prefix of ['sg.nn.', 'sg.optim.', 'sg.ste.', 'sg.io.', 'sg.Tensor#']) expect(names.some((n) => n.startsWith(prefix)), prefix).toBe(true);
  expect(names).toContain('sg.Tensor#matmul');
  expect(names).toContain('sg.nn.FrozenModel.fromState');
});
