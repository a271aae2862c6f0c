import { rt } from '../runtime/context.js';
import { parallelTiles, WORKSPACE } from '../runtime/parallel.js';

// f32 GEMM binding (kernel: assembly/gemm_f32.ts, twin: reference/gemm_f32.ts).

/** Output rows [m0, m1) x columns [n0, n1) of every product. */
export interface GemmTile { m0: number; m1: number; n0: number; n1: number }

/**
 * One call of the f32 GEMM driver: C = op(A)·op(B) (+ bias) (+ C) for
 * `batch` products. Offsets are byte offsets in wasm memory; leading
 * dimensions and strides count float32 elements.
 */
export interface GemmF32Desc {
  M: number;
  N: number;
  K: number;
  /** op(A) = Aᵀ: A is stored [K, M]. */
  transA?: boolean;
  /** op(B) = Bᵀ: B is stored [N, K]. */
  transB?: boolean;
  a: number;
  b: number;
  c: number;
  /** Distance between stored rows of A; default its row length (K, or M with transA). */
  lda?: number;
  /** Distance between stored rows of B; default its row length (N, or K with transB). */
  ldb?: number;
  /** Distance between rows of C; default N. */
  ldc?: number;
  /** Number of products (default 1). */
  batch?: number;
  /** Elements between consecutive A (B, C) of the batch; 0 reuses one operand for all. Default: dense. */
  strideA?: number;
  strideB?: number;
  strideC?: number;
  /** Offset of a float32 [N] bias added to every row (0 = none). */
  bias?: number;
  /** Add into C instead of overwriting it. */
  accumulate?: boolean;
  /** Compute only this tile of each product (default all of C); every tile gets the bits of the full call. */
  tile?: GemmTile;
}

/** The descriptor with its defaults filled in and checked. */
export interface GemmF32Layout {
  M: number; N: number; K: number; transA: boolean; transB: boolean;
  lda: number; ldb: number; ldc: number; batch: number; strideA: number; strideB: number; strideC: number;
  tile: GemmTile;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 2 ** 31 - 1;
}

function count(v: unknown, op: string, name: string): number {
  if (!isCount(v)) throw new Error(`${op}: ${name} must be a non-negative integer, got ${String(v)}`);
  return v;
}

function leading(v: unknown, row: number, op: string, name: string): number {
  const min = Math.max(row, 1);
  if (!isCount(v) || v < min) throw new Error(`${op}: ${name} must be an integer >= ${min} (the stored row length), got ${String(v)}`);
  return v;
}

/**
 * Fills in the defaults and checks that the layout is consistent (leading
 * dimensions at least the stored row length, tile inside C). Bounds against
 * the buffers stay with the caller, who knows them. (Plain checks, no
 * temporaries: small products are called often.)
 */
export function gemmF32Layout(d: GemmF32Desc, op = 'gemmF32'): GemmF32Layout {
  const M = count(d.M, op, 'M'), N = count(d.N, op, 'N'), K = count(d.K, op, 'K');
  const transA = !!d.transA, transB = !!d.transB;
  const lda = leading(d.lda ?? Math.max(transA ? M : K, 1), transA ? M : K, op, 'lda');
  const ldb = leading(d.ldb ?? Math.max(transB ? K : N, 1), transB ? K : N, op, 'ldb');
  const ldc = leading(d.ldc ?? Math.max(N, 1), N, op, 'ldc');
  const batch = count(d.batch ?? 1, op, 'batch');
  const strideA = count(d.strideA ?? lda * (transA ? K : M), op, 'strideA');
  const strideB = count(d.strideB ?? ldb * (transB ? N : K), op, 'strideB');
  const strideC = count(d.strideC ?? ldc * M, op, 'strideC');
  const t = d.tile;
  const tile = t === undefined ? { m0: 0, m1: M, n0: 0, n1: N } : { m0: t.m0, m1: t.m1, n0: t.n0, n1: t.n1 };
  const { m0, m1, n0, n1 } = tile;
  if (!isCount(m0) || !isCount(m1) || !isCount(n0) || !isCount(n1) || m0 > m1 || m1 > M || n0 > n1 || n1 > N) {
    throw new Error(`${op}: tile must satisfy 0 <= m0 <= m1 <= M = ${M} and 0 <= n0 <= n1 <= N = ${N}, got ${JSON.stringify(t)}`);
  }
  return { M, N, K, transA, transB, lda, ldb, ldc, batch, strideA, strideB, strideC, tile };
}

/**
 * Runs the f32 GEMM driver on a descriptor, split into tiles of C over the
 * worker pool when it pays; this binding owns the workspaces (one per thread).
 */
export function gemmF32(d: GemmF32Desc): void {
  const l = gemmF32Layout(d);
  const { m0, m1, n0, n1 } = l.tile;
  if (l.batch === 0 || m0 === m1 || n0 === n1) return;
  const { kernels } = rt();
  const K = l.K;
  parallelTiles({
    kernel: 'gemm_f32',
    rows: { begin: m0, end: m1, align: 4 },
    cols: { begin: n0, end: n1, align: 8 },
    cost: l.batch * (m1 - m0) * (n1 - n0) * Math.max(K, 1),
    workspace: (rows, cols) => kernels.gemm_f32_workspace_bytes(rows, cols, K),
    args: [K, d.a, l.lda, l.transA ? 1 : 0, d.b, l.ldb, l.transB ? 1 : 0, d.c, l.ldc, d.bias ?? 0, d.accumulate ? 1 : 0,
           l.batch, l.strideA, l.strideB, l.strideC, { i0: 1 }, { i1: 1 }, { j0: 1 }, { j1: 1 }, WORKSPACE],
  });
}
