// Shared by the runtime tests: Node's reference hashes, the package as users
// install it (npm pack into a scratch project), and the hash comparison.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const CONFORMANCE = join(ROOT, 'test/conformance');
export const DIST_URL = new URL('dist/snapgrad.js', `file://${ROOT}`).href;

export interface SuiteResult {
  runtime: string;
  hashes: Record<string, string>;
  /** Thread counts the suite ran at, and per count the cases that differ from the first (threads.mjs). */
  threads?: number[];
  threadDiffs?: Record<string, string[]>;
}

let nodeResult: Promise<SuiteResult> | null = null;

/** The suite run here in Node against the built bundle (dist/snapgrad.js): the reference every runtime is compared with. */
export function nodeHashes(): Promise<SuiteResult> {
  nodeResult ??= (async () => {
    const sg = await import(/* @vite-ignore */ DIST_URL);
    const { runConformanceThreads } = await import(/* @vite-ignore */ new URL('threads.mjs', `file://${CONFORMANCE}/`).href);
    const info = await sg.init();
    return { runtime: info.runtime, ...(await runConformanceThreads(sg)) };
  })();
  return nodeResult;
}

/**
 * Asserts that a runtime's hashes equal Node's, case by case: the failure
 * lists every differing output by name with both hashes.
 */
export function expectSameHashes(runtime: string, actual: SuiteResult, reference: SuiteResult): void {
  const names = [...new Set([...Object.keys(reference.hashes), ...Object.keys(actual.hashes)])];
  const differing = names
    .filter((name) => actual.hashes[name] !== reference.hashes[name])
    .map((name) => `${name}: ${runtime} ${actual.hashes[name] ?? '(missing)'} vs node ${reference.hashes[name] ?? '(missing)'}`);
  expect(differing, `${differing.length} of ${names.length} outputs differ from Node's`).toEqual([]);
  // Within the runtime, every thread count it ran gives the same bits.
  for (const [t, names] of Object.entries(actual.threadDiffs ?? {})) expect(names, `${runtime}: cases that differ at ${t} threads from 1 thread`).toEqual([]);
  expect(Object.keys(actual.hashes).length).toBeGreaterThan(100);
}

/** Parses the last line of a runner's stdout ({ runtime, hashes }). */
export function parseSuiteOutput(stdout: string): SuiteResult {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`the conformance runner printed no JSON result; its output was:\n${stdout}`);
  }
}

export interface PackedProject {
  /** A scratch project whose node_modules/snapgrad is the packed package, with the conformance files copied in. */
  dir: string;
  cleanup(): void;
}

/**
 * Packs the package with npm (so only the files listed in package.json ship)
 * and installs the tarball's contents into a scratch project, the way a user
 * gets it. The runners are copied next to it so that the bare specifier
 * 'snapgrad' resolves through that project's node_modules and exports map.
 */
export function packedProject(prefix: string): PackedProject {
  const dir = mkdtempSync(join(tmpdir(), `snapgrad-${prefix}-`));
  execFileSync('npm', ['pack', ROOT, '--pack-destination', dir, '--ignore-scripts', '--silent'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball into ${dir}`);
  const pkg = join(dir, 'node_modules', 'snapgrad');
  mkdirSync(pkg, { recursive: true });
  execFileSync('tar', ['xzf', join(dir, tarball), '-C', pkg, '--strip-components=1']);
  rmSync(join(dir, tarball));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `snapgrad-${prefix}-check`, private: true, type: 'module', dependencies: { snapgrad: '*' } }));
  for (const f of readdirSync(CONFORMANCE)) copyFileSync(join(CONFORMANCE, f), join(dir, f));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Milliseconds since `start`, rounded, for the timing lines the runtime tests print. */
export function since(start: number): number {
  return Math.round(performance.now() - start);
}
