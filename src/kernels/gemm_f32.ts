import { rt } from '../runtime/context.js';
import { withWorkspace } from './workspace.js';

export interface GemmF32Options {
  transA?: boolean;
  transB?: boolean;
  /** Offset of a float32 [N] bias added to every row (0 = none). */
  bias?: number;
  /** Add into C instead of overwriting it. */
  accumulate?: boolean;
}

/**
 * C[M,N] = op(A)·op(B) (+ bias) (+ C) over raw offsets. A is stored [M,K] or,
 * with transA, [K,M]; B is stored [K,N] or, with transB, [N,K]. Shapes are
 * checked by the caller (ops/matmul.ts); this binding owns the workspace.
 */
export function gemmF32(M: number, N: number, K: number, a: number, b: number, c: number, opts: GemmF32Options = {}): void {
  const { kernels } = rt();
  withWorkspace(kernels.gemm_f32_workspace_bytes(M, N, K), (work) =>
    kernels.gemm_f32(M, N, K, a, opts.transA ? 1 : 0, b, opts.transB ? 1 : 0, c, opts.bias ?? 0, opts.accumulate ? 1 : 0, work));
}
