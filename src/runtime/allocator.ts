/**
 * Host-side allocator over the wasm linear memory. Kernels never allocate:
 * every tensor, workspace and scratch buffer is a block handed out here.
 *
 * Blocks are 16-byte aligned (v128 loads) and sizes are rounded up to 16.
 * Free blocks are kept sorted by offset and coalesced with their neighbours;
 * allocation is best fit, so the repeated same-size allocations of a training
 * loop reuse the blocks the previous step freed and memory stops growing.
 */
export const ALIGN = 16;
const PAGE = 65536;
const MAX_PAGES = 65536;

export function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

export class Allocator {
  private readonly memory: WebAssembly.Memory;
  /** Free blocks sorted by offset: parallel arrays of offsets and sizes. */
  private freeOffsets: number[] = [];
  private freeSizes: number[] = [];
  /** Live blocks: offset -> size. */
  private readonly live = new Map<number, number>();
  private top: number;
  bytesInUse = 0;

  constructor(memory: WebAssembly.Memory, heapBase: number) {
    this.memory = memory;
    // Offset 0 is never handed out, so 0 can mean "no buffer" to kernels.
    this.top = alignUp(Math.max(heapBase, ALIGN));
  }

  get capacity(): number {
    return this.memory.buffer.byteLength;
  }

  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) {
      throw new Error(`alloc: bytes must be a non-negative integer, got ${bytes}`);
    }
    const size = alignUp(Math.max(bytes, 1));
    let best = -1;
    for (let i = 0; i < this.freeSizes.length; i++) {
      const s = this.freeSizes[i];
      if (s >= size && (best < 0 || s < this.freeSizes[best])) {
        best = i;
        if (s === size) break;
      }
    }
    let offset: number;
    if (best >= 0) {
      offset = this.freeOffsets[best];
      const rest = this.freeSizes[best] - size;
      if (rest > 0) {
        this.freeOffsets[best] = offset + size;
        this.freeSizes[best] = rest;
      } else {
        this.freeOffsets.splice(best, 1);
        this.freeSizes.splice(best, 1);
      }
    } else {
      offset = this.top;
      this.ensure(offset + size);
      this.top = offset + size;
    }
    this.live.set(offset, size);
    this.bytesInUse += size;
    return offset;
  }

  free(offset: number): void {
    const size = this.live.get(offset);
    if (size === undefined) throw new Error(`free: offset ${offset} is not a live block`);
    this.live.delete(offset);
    this.bytesInUse -= size;
    if (offset + size === this.top) {
      this.top = offset;
      // The block just below the top may be free too: give it back as well.
      const last = this.freeOffsets.length - 1;
      if (last >= 0 && this.freeOffsets[last] + this.freeSizes[last] === this.top) {
        this.top = this.freeOffsets[last];
        this.freeOffsets.pop();
        this.freeSizes.pop();
      }
      return;
    }
    // Binary search for the insertion point, then merge with neighbours.
    let lo = 0;
    let hi = this.freeOffsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.freeOffsets[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    let start = offset;
    let end = offset + size;
    let removeFrom = lo;
    let removeCount = 0;
    if (lo > 0 && this.freeOffsets[lo - 1] + this.freeSizes[lo - 1] === start) {
      start = this.freeOffsets[lo - 1];
      removeFrom = lo - 1;
      removeCount++;
    }
    if (lo < this.freeOffsets.length && this.freeOffsets[lo] === end) {
      end += this.freeSizes[lo];
      removeCount++;
    }
    this.freeOffsets.splice(removeFrom, removeCount, start);
    this.freeSizes.splice(removeFrom, removeCount, end - start);
  }

  sizeOf(offset: number): number | undefined {
    return this.live.get(offset);
  }

  get blocksAlive(): number {
    return this.live.size;
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    // Grow geometrically so a growing workload does not grow page by page.
    const needPages = Math.ceil((end - have) / PAGE);
    const currentPages = have / PAGE;
    const pages = Math.min(Math.max(needPages, currentPages >> 1), MAX_PAGES - currentPages);
    if (pages < needPages) {
      throw new Error(`out of memory: ${end} bytes needed, the wasm memory is limited to 4 GiB`);
    }
    try {
      this.memory.grow(pages);
    } catch (err) {
      // The engine may refuse to grow below the 4 GiB limit (its own cap, or the host is out of memory).
      throw new Error(`out of memory: ${end} bytes needed, and the runtime refused to grow the wasm memory by ${pages * PAGE} bytes (${String((err as Error)?.message ?? err)}); free tensors (dispose, tidy) or use smaller batches`);
    }
  }
}
