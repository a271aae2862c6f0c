// The wasm module's export list. Kernels are pure compute over raw byte
// offsets into the host-owned memory: they never allocate.
export * from "./layout";
export * from "./rng";
export * from "./elementwise";
export * from "./reduce";
export * from "./shape";
export * from "./gemm_f32";
export * from "./bitpack";
export * from "./gemm_b1";
export * from "./gemm_s8";
export * from "./hard";
export * from "./quant";
export * from "./quant_s8";
export * from "./vq";
export * from "./optim";
export * from "./threshold";
export * from "./batchnorm";
export * from "./gemm_u8b1";
export * from "./conv";
export * from "./pool";
export * from "./conv_b1";
export * from "./conv_int";
