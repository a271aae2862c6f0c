// Every public export has a fuzz model: the exports of src/index.ts are
// enumerated at run time (functions, namespaces, classes with their
// prototype methods, accessors and static methods), and each must be named in
// the `covers` list of some prop(...) in test/fuzz/*.fuzz.test.ts. A new
// export without a property fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import * as sg from '../../src/index.js';

/**
 * Members declared `protected` or `private` in src/ (and so absent from the
 * public type declarations), per class, with each class's parent: such members
 * are not part of the public surface and need no property (they are reached
 * through the public methods that call them).
 */
function nonPublicMembers(): Map<string, { parent: string | null; names: Set<string> }> {
  const out = new Map<string, { parent: string | null; names: Set<string> }>();
  const root = fileURLToPath(new URL('../../src/', import.meta.url));
  const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  for (const f of files) {
    const text = readFileSync(join(root, f), 'utf8');
    for (const m of text.matchAll(/^export (?:abstract )?class (\w+)(?:<[^>]*>)?(?: extends (\w+))?[^\n]*\{\n([\s\S]*?)^\}/gm)) {
      const names = new Set<string>();
      for (const d of m[3].matchAll(/^ {2}(?:(?:static|override|readonly|abstract|async) )*(?:protected|private) (?:(?:static|override|readonly|abstract|async) )*(?:get |set )?#?(\w+)/gm)) names.add(d[1]);
      out.set(m[1], { parent: m[2] ?? null, names });
    }
  }
  return out;
}

const NON_PUBLIC = nonPublicMembers();

function isNonPublic(cls: string, member: string): boolean {
  for (let c: string | null = cls; c !== null; c = NON_PUBLIC.get(c)?.parent ?? null) {
    if (NON_PUBLIC.get(c)?.names.has(member)) return true;
  }
  return false;
}

/** Public names of everything reachable from the package's exports, with the value each names. */
export function enumerateExports(includeNonPublic = false): Map<string, unknown> {
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
            if (m === 'constructor' || (!includeNonPublic && isNonPublic((v as { name: string }).name, m))) continue;
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
  // A property may also cover protected members (reached through subclasses), so they count as real here.
  const exports = enumerateExports(true);
  const stale = [...declaredCovers().entries()].filter(([n]) => !exports.has(n)).map(([n, f]) => `${n} (${f})`);
  expect(stale, 'covers lists naming no export').toEqual([]);
});

test('protected and private members are not public exports', () => {
  const names = [...enumerateExports().keys()];
  expect(isNonPublic('Module', 'checkAlive')).toBe(true);
  expect(names).not.toContain('sg.nn.Module#checkAlive');
  expect(names).not.toContain('sg.nn.BatchNorm1d#checkStateValue');
  expect(names).toContain('sg.nn.Module#parameters');
});

test('the enumeration sees the namespaces and the chainable Tensor methods', () => {
  const names = [...enumerateExports().keys()];
  for (const prefix of ['sg.nn.', 'sg.optim.', 'sg.ste.', 'sg.io.', 'sg.Tensor#']) expect(names.some((n) => n.startsWith(prefix)), prefix).toBe(true);
  expect(names).toContain('sg.Tensor#matmul');
  expect(names).toContain('sg.nn.FrozenModel.fromState');
});
