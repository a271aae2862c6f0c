// The public types: Tensor carries its dtype as a type parameter where the
// creation function or cast fixes it (test/types/dtype-params.ts, compiled by tsc).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

test('tsc accepts the dtype-typed uses and rejects the mistyped ones (each @ts-expect-error is an error)', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  let out = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', 'test/types/tsconfig.json'], { cwd: root, encoding: 'utf8' });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? err);
  }
  expect(out).toBe('');
});
