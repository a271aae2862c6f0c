// Element offset of row r (the index over all axes but the last) through
// the given strides. Stateless on purpose: kernels keep no static scratch,
// so they stay safe when several threads share the memory.
@inline export function outerOffset(r: i32, last: i32, dims: usize, strides: usize): i32 {
  let off = 0;
  let rem = r;
  for (let d = last - 1; d >= 0; d--) {
    const size = load<i32>(dims + (<usize>d << 2));
    const q = rem / size;
    off += (rem - q * size) * load<i32>(strides + (<usize>d << 2));
    rem = q;
  }
  return off;
}
