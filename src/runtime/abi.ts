/**
 * The wasm module's exports, as the host calls them. Pointers are byte
 * offsets into the host-owned memory; sizes are element counts.
 * Grouped by kernel family (one assembly/ file each).
 */
export interface WasmExports {
  memory: WebAssembly.Memory;
  heap_base(): number;

  // rng.ts
  rng_seed(seed: number, stream: number): void;
  rng_uniform_f32(out: number, n: number, lo: number, hi: number): void;
  rng_normal_f32(out: number, n: number, mean: number, std: number): void;
  rng_int_i32(out: number, n: number, lo: number, hi: number): void;
  rng_gumbel_f32(out: number, n: number): void;

  // elementwise.ts
  f32_unary(op: number, x: number, y: number, n: number): void;
  f32_unary_backward(op: number, x: number, y: number, dy: number, dx: number, n: number): void;
  f32_affine(x: number, y: number, n: number, a: number, b: number): void;
  f32_clip(x: number, y: number, n: number, lo: number, hi: number): void;
  f32_binary(op: number, a: number, b: number, out: number, ndim: number, dims: number, aStrides: number, bStrides: number): void;
  f32_axpy(y: number, x: number, n: number, a: number): void;
  f32_fill(y: number, n: number, v: number): void;
  i32_fill(y: number, n: number, v: number): void;
  f32_count_nan(x: number, n: number): number;
  u8_to_f32(x: number, y: number, n: number): void;
  i8_to_f32(x: number, y: number, n: number): void;
  i32_to_f32(x: number, y: number, n: number): void;
  u8_to_i32(x: number, y: number, n: number): void;
  i8_to_i32(x: number, y: number, n: number): void;
  f32_to_i32(x: number, y: number, n: number): void;

  // reduce.ts
  f32_sum_axis(x: number, y: number, outer: number, n: number, inner: number): void;
  f32_max_axis(x: number, y: number, idx: number, outer: number, n: number, inner: number): void;
  f32_max_axis_backward(dy: number, idx: number, dx: number, outer: number, n: number, inner: number): void;
  f32_softmax_rows(x: number, y: number, rows: number, n: number, log: number): void;
  f32_softmax_rows_backward(y: number, dy: number, dx: number, rows: number, n: number, log: number): void;
  f32_pick_rows(x: number, labels: number, out: number, rows: number, n: number): void;
  f32_pick_rows_backward(dy: number, labels: number, dx: number, rows: number, n: number): void;
  i32_find_out_of_range(x: number, n: number, lo: number, hi: number): number;

  // shape.ts
  copy_strided(src: number, srcStrides: number, dst: number, dstStrides: number, elemBytes: number, ndim: number, dims: number): void;
  transpose_32(src: number, dst: number, rows: number, cols: number): void;
  gather_rows(src: number, idx: number, dst: number, count: number, rowBytes: number): void;
  f32_scatter_add_rows(src: number, idx: number, dst: number, count: number, n: number): void;

  // gemm_f32.ts
  gemm_f32_workspace_bytes(M: number, N: number, K: number): number;
  gemm_f32(M: number, N: number, K: number, a: number, transA: number, b: number, transB: number,
           c: number, bias: number, accumulate: number, work: number): void;

  // vq.ts
  vq_codebook_norms(codebook: number, K: number, D: number, norms: number): void;
  vq_nearest_workspace_bytes(N: number, K: number, D: number): number;
  vq_nearest(z: number, N: number, codebook: number, norms: number, K: number, D: number, out: number, work: number): void;
  vq_ema_workspace_bytes(K: number, D: number): number;
  vq_ema_update(z: number, idx: number, N: number, K: number, D: number, clusterSize: number, embedSum: number,
                codebook: number, decay: number, eps: number, work: number): void;

  // quant.ts
  /** Returns the number of NaNs in x. */
  f32_hard(op: number, x: number, y: number, n: number): number;
  f32_ternarize(x: number, y: number, n: number, t: number): void;
  f32_fake_quant(x: number, y: number, n: number, scale: number, zeroPoint: number, qmin: number, qmax: number): void;
  f32_fake_quant_backward(x: number, dy: number, dx: number, n: number, scale: number, zeroPoint: number, qmin: number, qmax: number): void;
  f32_range_mask_backward(x: number, dy: number, dx: number, n: number, lo: number, hi: number): void;
  f32_approx_sign_backward(x: number, dy: number, dx: number, n: number): void;
  f32_swish_sign_backward(x: number, dy: number, dx: number, n: number, beta: number): void;

  // optim.ts
  adam_update(p: number, g: number, m: number, v: number, n: number, b1: number, c1: number, b2: number, c2: number,
              stepSize: number, bc2Sqrt: number, eps: number, shrink: number, l2: number, lo: number, hi: number): void;
  bop_update(w: number, g: number, m: number, n: number, gamma: number, threshold: number): number;

  // bitpack.ts
  pack_bits_f32(x: number, rows: number, k: number, out: number, words: number): number;
  bits_padding_violations(bits: number, rows: number, words: number, k: number): number;

  // gemm_b1.ts
  gemm_b1(M: number, N: number, k: number, words: number, a: number, b: number, c: number): void;
  gemm_b1_f32(M: number, N: number, k: number, words: number, a: number, b: number, c: number): void;
  gemm_b1_scaled(M: number, N: number, k: number, words: number, a: number, b: number, c: number, scale: number, bias: number): void;
  gemm_b1w_packed_bytes(N: number, K: number): number;
  gemm_b1w_pack(bits: number, N: number, words: number, K: number, out: number): void;
  gemm_b1w_f32(M: number, N: number, K: number, x: number, packed: number, c: number, scale: number, bias: number): void;

  // gemm_u8b1.ts
  gemm_u8b1_packed_w_bytes(N: number, K: number): number;
  gemm_u8b1_workspace_bytes(K: number): number;
  gemm_u8b1_pack_w(bits: number, N: number, words: number, K: number, out: number): void;
  /** Returns how many values are not integers in [0, 255]. */
  gemm_u8b1_check_f32(x: number, n: number): number;
  gemm_u8b1(M: number, N: number, K: number, x: number, xF32: number, work: number, w: number, c: number): void;
  gemm_u8b1_f32(M: number, N: number, K: number, x: number, xF32: number, work: number, w: number, c: number): void;

  // gemm_s8.ts
  gemm_s8_packed_b_bytes(N: number, K: number): number;
  gemm_s8_workspace_bytes(M: number, K: number): number;
  gemm_s8_pack_b(b: number, N: number, K: number, transB: number, out: number): void;
  gemm_s8(M: number, N: number, K: number, a: number, packedB: number, c: number, work: number): void;
  gemm_s8_dequant(M: number, N: number, K: number, a: number, packedB: number, c: number, work: number, mult: number, add: number): void;
  gemm_s8_requant(M: number, N: number, K: number, a: number, packedB: number, c: number, work: number, mult: number, add: number): void;

  // quant_s8.ts
  quant_s8_f32(x: number, q: number, rows: number, cols: number, scales: number, zeroPoints: number,
               perChannel: number, qmin: number, qmax: number, unsigned: number): void;
  dequant_s8_f32(q: number, x: number, rows: number, cols: number, scales: number, zeroPoints: number,
                 perChannel: number, unsigned: number): void;
  absmax_rows_f32(x: number, rows: number, cols: number, out: number): void;

  // threshold.ts
  threshold_pack_f32(y: number, thr: number, dir: number, M: number, N: number, out: number): void;

  // batchnorm.ts
  bn_forward_train(x: number, y: number, xhat: number, mean: number, variance: number, invstd: number,
                   gamma: number, beta: number, B: number, F: number, eps: number): void;
  bn_backward_train(dy: number, xhat: number, invstd: number, gamma: number, dx: number,
                    dgamma: number, dbeta: number, B: number, F: number): void;
  bn_forward_eval(x: number, y: number, mean: number, variance: number, gamma: number, beta: number,
                  B: number, F: number, eps: number): void;
}
