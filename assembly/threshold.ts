// Folded "batch norm, then binarize" of a binary layer's output, straight to
// packed bits: out bit (m, n) = 1 (i.e. -1) when dir[n] > 0 ? y < thr[n] : y > thr[n].
// Rows are packed like packBits: ceil(N/128)*4 words, bit n%32 of word n/32, padding 0.
// Scalar twin: src/reference/threshold.ts.
export function threshold_pack_f32(y: usize, thr: usize, dir: usize, M: i32, N: i32, out: usize): void {
  const words = ((N + 127) >> 7) << 2;
  for (let m = 0; m < M; m++) {
    const row = y + (<usize>(m * N) << 2);
    const dst = out + (<usize>(m * words) << 2);
    memory.fill(dst, 0, <usize>words << 2);
    let n = 0;
    // 4 channels at a time: the two comparisons, selected by the direction, to a 4-bit mask.
    for (; n + 4 <= N; n += 4) {
      const o = <usize>n << 2;
      const v = v128.load(row + o);
      const t = v128.load(thr + o);
      const up = i32x4.gt_s(v128.load(dir + o), i32x4.splat(0));
      const neg = v128.bitselect(f32x4.lt(v, t), f32x4.gt(v, t), up);
      const bits = <u32>i32x4.bitmask(neg);
      const w = dst + (<usize>(n >> 5) << 2);
      store<u32>(w, load<u32>(w) | (bits << (n & 31)));
    }
    for (; n < N; n++) {
      const v = load<f32>(row + (<usize>n << 2));
      const t = load<f32>(thr + (<usize>n << 2));
      const neg = load<i32>(dir + (<usize>n << 2)) > 0 ? v < t : v > t;
      if (neg) {
        const w = dst + (<usize>(n >> 5) << 2);
        store<u32>(w, load<u32>(w) | (<u32>1 << (n & 31)));
      }
    }
  }
}
