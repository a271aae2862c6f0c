// The wasm builds and the one rule that picks among them. Every build has the
// same exports and argument conventions (one ABI, src/runtime/abi.generated.ts);
// they differ in the instructions the compiler may use:
//   simd             SIMD128                                  (every runtime)
//   simd-threads     SIMD128, shared memory + atomics         (a worker pool)
//   relaxed          SIMD128 + relaxed SIMD                   (when the probe passes)
//   relaxed-threads  both
// Integer kernels give the same bits in every build; the relaxed builds use
// relaxed instructions only where the result is exact (assembly/gemm_s8.ts,
// gemm_u8b1.ts), and only after src/runtime/relaxed-probe.ts has checked them.

export type BuildName = 'simd' | 'simd-threads' | 'relaxed' | 'relaxed-threads';

export const BUILD_NAMES: readonly BuildName[] = ['simd', 'simd-threads', 'relaxed', 'relaxed-threads'];

/** What may run here: relaxed SIMD passed its probe; threads (shared memory, workers) are available. */
export interface BuildConditions {
  relaxedOk: boolean;
  threadsOk: boolean;
}

/** The build to load: the fastest whose conditions hold. */
export function chooseBuild({ relaxedOk, threadsOk }: BuildConditions): BuildName {
  if (relaxedOk) return threadsOk ? 'relaxed-threads' : 'relaxed';
  return threadsOk ? 'simd-threads' : 'simd';
}

/** The file in dist/ that holds a build. */
export function buildFile(name: BuildName): string {
  return `snapgrad.${name}.wasm`;
}

/** How info().build names a build. */
export function buildLabel(name: BuildName): string {
  switch (name) {
    case 'simd': return 'simd128';
    case 'simd-threads': return 'simd128-threads';
    case 'relaxed': return 'relaxed-simd128';
    case 'relaxed-threads': return 'relaxed-simd128-threads';
  }
}
