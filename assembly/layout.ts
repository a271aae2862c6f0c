// Where the host's heap may start: everything below holds static data.
export function heap_base(): usize {
  return __heap_base;
}
