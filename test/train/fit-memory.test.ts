// A long fit() keeps memoryStats() flat: runs test/train/fit-memory.mjs (the
// script that measures the 10,000-step MNIST run) for 2,000 steps of batch 32
// over 4,096 MNIST images (16 epochs: reshuffles and validations included).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;

test('2,000 fit steps on MNIST: bytes in use, live tensors and wasm memory are the same between every step, and fit leaves what it found', () => {
  const out = execFileSync(process.execPath, [join(root, 'test/train/fit-memory.mjs'), '--steps', '2000', '--limit-train', '4096', '--limit-test', '1000'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  const line = out.trim().split('\n').pop()!;
  expect(line.startsWith('memory ')).toBe(true);
  const r = JSON.parse(line.slice('memory '.length));
  expect(r.steps).toBe(2000);
  // One line per epoch (the child's stdout is not a terminal).
  expect(out.split('\n').filter((l) => /^epoch \d+\/16 /.test(l)).length).toBe(16);
  expect(r.betweenSteps.minBytesInUse).toBe(r.betweenSteps.maxBytesInUse);
  expect(r.betweenSteps.minTensors).toBe(r.betweenSteps.maxTensors);
  expect(r.betweenSteps.maxMemoryBytes).toBe(r.firstStep.memoryBytes);
  expect(r.after.memoryBytes).toBe(r.firstStep.memoryBytes);
  expect(r.after.bytesInUse).toBe(r.before.bytesInUse);
  expect(r.after.tensorsAlive).toBe(r.before.tensorsAlive);
  expect(r.valAccuracy).toBeGreaterThan(0.85);
});
