// f32 GEMM: C[M,N] = op(A)·op(B) (+ bias[N]) (+ C when accumulate != 0).
// A is stored [M,K] (transA = 0) or [K,M] (transA = 1); B is stored [K,N]
// (transB = 0) or [N,K] (transB = 1); all row-major and contiguous.
// `work` is host-provided scratch of gemm_f32_workspace_bytes(M, N, K) bytes.

export function gemm_f32_workspace_bytes(M: i32, N: i32, K: i32): i32 {
  return K * N * 4 + 16;
}

export function gemm_f32(M: i32, N: i32, K: i32, a: usize, transA: i32, b: usize, transB: i32,
                         c: usize, bias: usize, accumulate: i32, work: usize): void {
  // Pack B as [K, N] so every row of C is built from contiguous B rows.
  let bp = b;
  if (transB) {
    bp = work;
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < N; j++) store<f32>(bp + (<usize>(k * N + j) << 2), load<f32>(b + (<usize>(j * K + k) << 2)));
    }
  }
  const sam = transA ? 1 : K;
  const sak = transA ? M : 1;
  for (let i = 0; i < M; i++) {
    const crow = c + (<usize>(i * N) << 2);
    if (!accumulate) {
      if (bias) memory.copy(crow, bias, <usize>N << 2);
      else memory.fill(crow, 0, <usize>N << 2);
    } else if (bias) {
      for (let j = 0; j < N; j++) store<f32>(crow + (<usize>j << 2), load<f32>(crow + (<usize>j << 2)) + load<f32>(bias + (<usize>j << 2)));
    }
    for (let k = 0; k < K; k++) {
      const av = load<f32>(a + (<usize>(i * sam + k * sak) << 2));
      const va = f32x4.splat(av);
      const brow = bp + (<usize>(k * N) << 2);
      let j = 0;
      for (; j + 4 <= N; j += 4) {
        const o = <usize>j << 2;
        v128.store(crow + o, f32x4.add(v128.load(crow + o), f32x4.mul(va, v128.load(brow + o))));
      }
      for (; j < N; j++) {
        const o = <usize>j << 2;
        store<f32>(crow + o, load<f32>(crow + o) + av * load<f32>(brow + o));
      }
    }
  }
}
