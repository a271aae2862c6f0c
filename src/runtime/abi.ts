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

  // quant.ts
  f32_hard(op: number, x: number, y: number, n: number): void;
  f32_ternarize(x: number, y: number, n: number, t: number): void;
  f32_fake_quant(x: number, y: number, n: number, scale: number, zeroPoint: number, qmin: number, qmax: number): void;
  f32_fake_quant_backward(x: number, dy: number, dx: number, n: number, scale: number, zeroPoint: number, qmin: number, qmax: number): void;
  f32_range_mask_backward(x: number, dy: number, dx: number, n: number, lo: number, hi: number): void;
  f32_approx_sign_backward(x: number, dy: number, dx: number, n: number): void;
  f32_swish_sign_backward(x: number, dy: number, dx: number, n: number, beta: number): void;
}
