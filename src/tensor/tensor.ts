import { rt } from '../runtime/context.js';
import { f32View, i32View, i8View, u8View } from '../runtime/views.js';
import type { AnyTypedArray, DType, TypedArrayFor } from './dtypes.js';
import { bytesPerElement } from './dtypes.js';
import { trackInScope, untrack } from './scope.js';

/** A block of wasm memory shared by a tensor and its views (reshape, detach). */
export class Storage {
  refs = 1;
  /** Bumped by every in-place write, so caches of derived data know they are stale. */
  version = 0;
  /** Data derived from this storage (packed weights, row norms), freed with it. See derived.ts. */
  derived: Map<string, { version: number; offset: number }> | null = null;
  constructor(readonly offset: number, readonly bytes: number) {}

  release(): void {
    const { allocator } = rt();
    allocator.free(this.offset);
    if (this.derived !== null) {
      for (const d of this.derived.values()) allocator.free(d.offset);
      this.derived = null;
    }
  }
}

/** One node of the autograd tape: the op's inputs and the rule that maps dy to their gradients. */
export interface GradNode {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  /** Returns one gradient per input (null where an input needs none). Must return fresh tensors. */
  readonly backward: (dy: Tensor) => (Tensor | null)[];
  /** Tensors the op made for backward (e.g. argmax indices), owned by the tape: freed with the output. Only the tape adds to it. */
  readonly saved: Tensor[];
}

let nextId = 1;

/** The id the next tensor will get: ids only grow, so a tensor with a smaller id existed before. */
export function nextTensorId(): number {
  return nextId;
}
let tensorsAlive = 0;

export function liveTensorCount(): number {
  return tensorsAlive;
}

/** Reads a tensor's private storage; set by Tensor's static block, used by storageOf below. */
let storageSlot: (t: Tensor) => Storage | null;

/**
 * A tensor in wasm memory. `D` is its dtype as a type, where the creation
 * function or op fixes it (`zeros([2], { dtype: 'int32' })` is a
 * `Tensor<'int32'>`, ops on floats give `Tensor<'float32'>`); plain `Tensor`
 * is any dtype.
 */
export class Tensor<D extends DType = DType> {
  readonly id: number;
  readonly shape: readonly number[];
  readonly dtype: D;
  readonly size: number;
  /** Gradient accumulated by backward() (leaf tensors only). */
  grad: Tensor | null = null;
  /** The tape node that produced this tensor, if it was recorded. */
  node: GradNode | null = null;
  requiresGrad = false;
  /** Set by keep(): tidy() scopes leave this tensor alive. */
  kept = false;
  private storage: Storage | null;

  /** @internal use the creation functions (tensor, zeros, ...) */
  constructor(storage: Storage, shape: readonly number[], dtype: D) {
    if (!(storage instanceof Storage)) throw new Error('Tensor: tensors are made by tensor(), zeros(), ones(), full() or the ops, not with new Tensor()');
    this.id = nextId++;
    this.storage = storage;
    this.shape = Object.freeze(shape.slice());
    this.dtype = dtype;
    this.size = sizeOf(shape);
    tensorsAlive++;
    trackInScope(this);
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  /** Byte offset of the data in wasm memory. Throws if the tensor was disposed. */
  get offset(): number {
    return storageOf(this).offset;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Copies the data out to a new JS typed array (safe to keep). */
  dataSync(): TypedArrayFor<D> {
    if (this.storage === null) throw new Error(`dataSync: tensor #${this.id} (shape [${this.shape}], ${this.dtype}) was disposed and cannot be used`);
    return rawView(this).slice() as TypedArrayFor<D>;
  }

  /** The data as nested JS arrays following the shape (a number for a scalar). */
  toArray(): any {
    if (this.storage === null) throw new Error(`toArray: tensor #${this.id} (shape [${this.shape}], ${this.dtype}) was disposed and cannot be used`);
    const flat = this.dataSync();
    if (this.shape.length === 0) return flat[0];
    const build = (dim: number, start: number): any[] => {
      const n = this.shape[dim];
      const out = new Array(n);
      if (dim === this.shape.length - 1) {
        for (let i = 0; i < n; i++) out[i] = flat[start + i];
        return out;
      }
      const stride = sizeOf(this.shape.slice(dim + 1));
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, start + i * stride);
      return out;
    };
    return build(0, 0);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.storage === null) throw new Error(`item: tensor #${this.id} (shape [${this.shape}], ${this.dtype}) was disposed and cannot be used`);
    if (this.size !== 1) throw new Error(`item: tensor must have exactly one element, got shape [${this.shape}]`);
    return this.dataSync()[0];
  }

  /** Frees the memory (once no view shares it). Disposing twice is harmless. */
  dispose(): void {
    const s = this.storage;
    if (s === null) return;
    this.storage = null;
    tensorsAlive--;
    untrack(this);
    if (--s.refs === 0) s.release();
    if (this.grad !== null) {
      this.grad.dispose();
      this.grad = null;
    }
    // The node stays (a graph through a disposed tensor still reaches its inputs); what it saved goes.
    if (this.node !== null) for (const t of this.node.saved) t.dispose();
  }

  toString(): string {
    return this.disposed ? `Tensor(#${this.id} disposed)` : `Tensor(${JSON.stringify(this.toArray())}, shape=[${this.shape}], dtype=${this.dtype})`;
  }

  static {
    storageSlot = (t) => t.storage;
  }
}

// Host-internal access to a tensor's memory. These are functions of this
// module, not Tensor methods, so they never appear on the public Tensor
// (src/index.ts does not export them): only the library's own modules reach them.

/** The storage, for making views that share it and for aliasing checks. Throws if the tensor was disposed. */
export function storageOf(t: Tensor): Storage {
  const s = storageSlot(t);
  if (s === null) throw new Error(`tensor #${t.id} (shape [${t.shape}], ${t.dtype}) was disposed and cannot be used`);
  return s;
}

/** A new tensor object sharing t's memory, with another shape of the same size. */
export function viewOf(t: Tensor, shape: readonly number[]): Tensor {
  const s = storageOf(t);
  if (sizeOf(shape) !== t.size) throw new Error(`internal: view of [${t.shape}] as [${shape}] changes the size`);
  s.refs++;
  return new Tensor(s, shape, t.dtype);
}

// Raw views: typed arrays over a tensor's elements in wasm memory, no copy,
// for host code that reads or writes in place (call markModified after
// writing). Any call that may allocate can grow the memory and detach them:
// use one at once and never keep it.

/** A raw view typed by dtype (see above). */
export function rawView(t: Tensor): AnyTypedArray {
  const off = t.offset;
  switch (t.dtype) {
    case 'float32': return f32View(off, t.size);
    case 'int32': return i32View(off, t.size);
    case 'int8': return i8View(off, t.size);
    default: return u8View(off, t.size);
  }
}

/** A raw Float32Array view of a float32 tensor. */
export function rawF32(t: Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`internal: rawF32 of a ${t.dtype} tensor`);
  return f32View(t.offset, t.size);
}

/** A raw Int32Array view of an int32 tensor. */
export function rawI32(t: Tensor): Int32Array {
  if (t.dtype !== 'int32') throw new Error(`internal: rawI32 of a ${t.dtype} tensor`);
  return i32View(t.offset, t.size);
}

/** A raw view of a tensor's bytes, whatever its dtype. */
export function rawBytes(t: Tensor): Uint8Array {
  return u8View(t.offset, t.size * bytesPerElement(t.dtype));
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Allocates an uninitialized tensor. */
export function empty<D extends DType = 'float32'>(shape: readonly number[], dtype: D = 'float32' as D): Tensor<D> {
  // Ops check ranks with their own names first; this guard keeps any path from making a tensor no kernel can walk.
  if (shape.length > 8) throw new Error(`tensor of shape [${shape}] has ${shape.length} dimensions; at most 8 are supported`);
  const bytes = sizeOf(shape) * bytesPerElement(dtype);
  if (bytes > 2 ** 32 - 2 ** 20) throw new Error(`out of memory: a ${dtype} tensor of shape [${shape}] needs ${bytes} bytes, more than the 4 GiB wasm memory holds; use smaller shapes or batches`);
  const offset = rt().allocator.alloc(bytes);
  return new Tensor(new Storage(offset, bytes), shape, dtype);
}
