import { record } from '../autograd/tape.js';
import { gemmF32 } from '../kernels/gemm_f32.js';
import { checkFloat } from '../tensor/checks.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { collapseAxes } from '../kernels/internal/strided.js';
import { broadcastShapes, broadcastStrides, contiguousStrides } from './broadcast.js';
import { sumToShape } from './reduce.js';

export interface MatmulOptions {
  /** Use aᵀ: a is stored [..., K, M]. */
  transposeA?: boolean;
  /** Use bᵀ: b is stored [..., N, K] (the usual weight layout). */
  transposeB?: boolean;
}

function checkMatrix(t: Tensor, arg: string, dims: string): void {
  if (t.rank < 2) throw new Error(`matmul: ${arg} must have at least 2 dimensions (a matrix ${dims}, or a batch of them [..., ${dims.slice(1)}), got shape [${t.shape}]`);
}

/**
 * C = op(a) · op(b) for float32 tensors [..., M, K] x [..., K, N] -> [..., M, N]:
 * the leading (batch) dimensions broadcast as in NumPy, and every transpose
 * form and batch runs the same packed GEMM, reading the operands in place.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions | null = {}): Tensor {
  checkFloat(a, 'matmul', 'a');
  checkFloat(b, 'matmul', 'b');
  const o = readOptions<MatmulOptions>(options, 'matmul');
  const ta = boolOption(o.transposeA, 'matmul', 'transposeA');
  const tb = boolOption(o.transposeB, 'matmul', 'transposeB');
  checkMatrix(a, 'a', ta ? '[K, M]' : '[M, K]');
  checkMatrix(b, 'b', tb ? '[N, K]' : '[K, N]');
  const ra = a.shape[a.rank - 2], ca = a.shape[a.rank - 1];
  const rb = b.shape[b.rank - 2], cb = b.shape[b.rank - 1];
  const [M, K] = ta ? [ca, ra] : [ra, ca];
  const [Kb, N] = tb ? [cb, rb] : [rb, cb];
  if (K !== Kb) {
    throw new Error(
      `matmul: inner dimensions differ: ${ta ? 'aᵀ' : 'a'} is [${M}, ${K}] (a has shape [${a.shape}]) but ${tb ? 'bᵀ' : 'b'} is [${Kb}, ${N}] (b has shape [${b.shape}])`,
    );
  }
  const batch = a.rank === 2 && b.rank === 2 ? [] : broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul (batch dimensions)');
  const c = gemm(a, ta, b, tb, M, N, K, batch);
  return record(c, 'matmul', [a, b], (dc) => {
    // Every gradient is one more GEMM in some transpose form — all equally fast.
    // C = op(A)·op(B):  dop(A) = dC·op(B)ᵀ,  dop(B) = op(A)ᵀ·dC; batch axes
    // an operand was broadcast over are summed out.
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      da = reduceTo(ta
        ? gemm(b, tb, dc, true, K, M, N, batch) // dA (stored [K,M]) = op(B)·dCᵀ
        : gemm(dc, false, b, !tb, M, K, N, batch), a.shape); // dA = dC·op(B)ᵀ
    }
    if (b.requiresGrad) {
      db = reduceTo(tb
        ? gemm(dc, true, a, ta, N, K, M, batch) // dB (stored [N,K]) = dCᵀ·op(A)
        : gemm(a, !ta, dc, false, K, N, M, batch), b.shape); // dB = op(A)ᵀ·dC
    }
    return [da, db];
  });
}

/** A gradient at the batch-broadcast shape, summed back to the operand's shape. */
function reduceTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.rank === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const r = sumToShape(g, shape);
  g.dispose();
  return r;
}

/**
 * out[...batch, m, n] = op(x)·op(y) where op(x) is [m, k] (k = 0 gives
 * zeros) and x, y broadcast over `batch`. The innermost batch axes that
 * collapse to one stride go to the driver in one call; any others loop here.
 */
function gemm(x: Tensor, tx: boolean, y: Tensor, ty: boolean, m: number, n: number, k: number, batch: number[]): Tensor {
  const out = empty([...batch, m, n], 'float32');
  if (out.size === 0) return out;
  if (batch.length === 0) {
    gemmF32({ M: m, N: n, K: k, a: x.offset, b: y.offset, c: out.offset, transA: tx, transB: ty });
    return out;
  }
  const matrix = (t: Tensor) => t.shape[t.rank - 1] * t.shape[t.rank - 2];
  const scale = (s: number[], by: number) => s.map((v) => v * by);
  const { dims, strides: [sx, sy, sc] } = collapseAxes(batch, [
    scale(broadcastStrides(x.shape.slice(0, -2), batch), matrix(x)),
    scale(broadcastStrides(y.shape.slice(0, -2), batch), matrix(y)),
    scale(contiguousStrides(batch), m * n),
  ]);
  const last = dims.length - 1;
  const outer = dims.slice(0, last).reduce((p, d) => p * d, 1);
  const idx = new Array(last).fill(0);
  for (let o = 0; o < outer; o++) {
    let ox = 0, oy = 0, oc = 0;
    for (let i = 0; i < last; i++) { ox += idx[i] * sx[i]; oy += idx[i] * sy[i]; oc += idx[i] * sc[i]; }
    gemmF32({
      M: m, N: n, K: k, transA: tx, transB: ty,
      a: x.offset + ox * 4, b: y.offset + oy * 4, c: out.offset + oc * 4,
      batch: dims[last], strideA: sx[last], strideB: sy[last], strideC: sc[last],
    });
    for (let i = last - 1; i >= 0 && ++idx[i] === dims[i]; i--) idx[i] = 0;
  }
  return out;
}
