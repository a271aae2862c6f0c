// Where the host's heap may start: everything below holds static data.
export function heap_base(): usize {
  return __heap_base;
}

// 1 in the relaxed-SIMD builds, 0 in the plain ones: the host probes a
// relaxed module's results before it trusts them (src/runtime/relaxed-probe.ts).
export function build_relaxed_simd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
